/**
 * The suite cannot reach the network (issue 10): `npm test` runs it inside a
 * network namespace whose only interface is loopback, so a connect to any
 * other address fails in the kernel at once with ENETUNREACH, before a packet
 * exists. The namespace is checked BEFORE anything is sent: outside it these
 * tests fail without connecting anywhere.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';

/** `namespace` under `npm test`, `none` when the launcher announced it could not isolate (then these are skipped). */
const mode = process.env.FACE_TEST_ISOLATION;

function interfaceNames(): string[] {
  return readFileSync('/proc/net/dev', 'utf8')
    .split('\n')
    .slice(2)
    .map((line) => line.split(':')[0]!.trim())
    .filter(Boolean);
}

function assertIsolated(): void {
  const names = interfaceNames();
  if (names.length === 0 || names.some((name) => name !== 'lo')) {
    throw new Error(`not in a loopback-only network namespace (interfaces: ${names.join(', ')}): run the suite with \`npm test\`, which uses unshare -rn`);
  }
}

/** The error of one TCP connect, and how long it took; a successful connect is a failure of isolation. */
function connectError(host: string, port: number): Promise<{ code?: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(2000, () => {
      socket.destroy();
      reject(new Error(`connect to ${host}:${port} neither failed nor succeeded within 2 s: the network is reachable`));
    });
    socket.once('connect', () => {
      socket.destroy();
      reject(new Error(`connected to ${host}:${port}: the suite is not isolated`));
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ code: error.code, ms: performance.now() - started }));
  });
}

describe.skipIf(mode === 'none')('network isolation of the test suite', () => {
  it('has loopback as its only network interface, and loopback works', async () => {
    assertIsolated();
    const server = net.createServer((socket) => socket.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const text = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    server.close();
    expect(text).toBe('ok');
  });

  it.each([
    ['a private address', '10.255.255.1'],
    ['the instance metadata address', '169.254.169.254'],
    ['a TEST-NET address', '192.0.2.1'],
    ['an IPv6 documentation address', '2001:db8::1'],
  ])('a connect to %s fails at once with ENETUNREACH', async (_name, host) => {
    assertIsolated(); // never send anything unless isolated
    const { code, ms } = await connectError(host, 9);
    expect(code).toBe('ENETUNREACH');
    expect(ms).toBeLessThan(500);
  });
});
