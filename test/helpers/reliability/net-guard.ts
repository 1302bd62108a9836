/**
 * A tripwire for this test process: every outgoing TCP connection and every
 * system DNS query is checked, and anything that would leave the machine
 * (an address outside 127.0.0.0/8 and ::1, or a real DNS lookup of a name other
 * than `localhost`) is blocked before a packet is sent and recorded as a
 * violation. SSRF suites assert that the list stays empty: a refused URL was
 * refused by the policy, not by the network.
 */
import dns from 'node:dns';
import net from 'node:net';

export interface NetGuard {
  /** One line per blocked attempt (`connect 10.0.0.1:80`, `dns example.com`). */
  readonly violations: string[];
  /** Every connection target allowed through (loopback), for "was X contacted?" checks. */
  readonly connections: string[];
  uninstall(): void;
}

/** True for 127.0.0.0/8 and ::1 (with or without brackets, IPv4-mapped included). */
export function isLoopbackAddress(address: string): boolean {
  const plain = address.replace(/^\[|\]$/g, '').toLowerCase();
  if (plain === '::1' || plain === '0:0:0:0:0:0:0:1') return true;
  const v4 = plain.startsWith('::ffff:') ? plain.slice(7) : plain;
  return net.isIPv4(v4) && v4.startsWith('127.');
}

type ConnectArgs = unknown[];
interface ConnectOptions {
  host?: string;
  port?: number;
  path?: string;
  lookup?: net.LookupFunction;
}

function optionsOf(args: ConnectArgs): ConnectOptions | undefined {
  const first = args[0];
  // net.connect() hands Socket#connect its normalised [options, callback] array.
  if (Array.isArray(first)) return first[0] as ConnectOptions;
  if (first !== null && typeof first === 'object') return first as ConnectOptions;
  return undefined;
}

export interface NetGuardOptions {
  /**
   * Which resolved addresses may be connected to. Narrower predicates let a test
   * check the guard itself against a loopback address it pretends is remote.
   * @default {@link isLoopbackAddress}
   */
  readonly allowAddress?: (address: string) => boolean;
}

/** Installs the guard; `uninstall` restores what was there before (guards may be nested). */
export function installNetGuard(guardOptions: NetGuardOptions = {}): NetGuard {
  const allowed = guardOptions.allowAddress ?? isLoopbackAddress;
  const violations: string[] = [];
  const connections: string[] = [];
  const originalConnect = net.Socket.prototype.connect;
  const originalLookup = dns.lookup;
  const originalPromisesLookup = dns.promises.lookup;

  const refuse = (socket: net.Socket, what: string): net.Socket => {
    violations.push(what);
    const error: NodeJS.ErrnoException = new Error(`net guard: blocked ${what}`);
    error.code = 'ENETUNREACH';
    process.nextTick(() => socket.destroy(error));
    return socket;
  };

  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: ConnectArgs) {
    const options = optionsOf(args);
    const port = options?.port ?? (typeof args[0] === 'number' ? args[0] : undefined);
    const host = options?.host ?? (typeof args[1] === 'string' ? args[1] : 'localhost');
    // node:http passes `path: null` for TCP; only a non-empty string is a unix socket path.
    if ((typeof options?.path === 'string' && options.path !== '') || (typeof args[0] === 'string' && !/^\d+$/.test(args[0]))) {
      return originalConnect.apply(this, args as never); // a unix socket path never leaves the machine
    }
    if (net.isIP(host.replace(/^\[|\]$/g, ''))) {
      if (!allowed(host.replace(/^\[|\]$/g, ''))) return refuse(this, `connect ${host}:${port}`);
      connections.push(`${host}:${port}`);
      return originalConnect.apply(this, args as never);
    }
    if (options?.lookup) {
      // A pinned lookup (the image fetcher's): let it answer, then check what it answered.
      const inner = options.lookup;
      options.lookup = ((hostname: string, lookupOptions: dns.LookupOptions, callback: (...a: unknown[]) => void) =>
        inner(hostname, lookupOptions, ((err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => {
          if (err) return callback(err);
          const list = Array.isArray(address) ? address.map((a) => a.address) : [address];
          const bad = list.find((a) => !allowed(a));
          if (bad !== undefined) {
            violations.push(`connect ${hostname}=${bad}:${port}`);
            const error: NodeJS.ErrnoException = new Error('net guard: blocked non-loopback address');
            error.code = 'ENETUNREACH';
            return callback(error);
          }
          connections.push(`${hostname}=${list.join(',')}:${port}`);
          return callback(null, address, family);
        }) as never)) as net.LookupFunction;
      return originalConnect.apply(this, args as never);
    }
    if (host.toLowerCase() !== 'localhost') return refuse(this, `connect ${host}:${port} (system DNS)`);
    connections.push(`localhost:${port}`);
    return originalConnect.apply(this, args as never);
  } as typeof net.Socket.prototype.connect;

  dns.lookup = function guardedLookup(hostname: string, ...rest: unknown[]) {
    if (hostname.toLowerCase() !== 'localhost' && net.isIP(hostname) === 0) {
      violations.push(`dns ${hostname}`);
      const callback = rest[rest.length - 1] as (err: Error) => void;
      const error: NodeJS.ErrnoException = new Error('net guard: blocked DNS query');
      error.code = 'ENOTFOUND';
      process.nextTick(() => callback(error));
      return {} as never;
    }
    return (originalLookup as (...a: unknown[]) => unknown)(hostname, ...rest);
  } as typeof dns.lookup;
  dns.promises.lookup = async function guardedPromisesLookup(hostname: string, ...rest: unknown[]) {
    if (hostname.toLowerCase() !== 'localhost' && net.isIP(hostname) === 0) {
      violations.push(`dns ${hostname}`);
      const error: NodeJS.ErrnoException = new Error('net guard: blocked DNS query');
      error.code = 'ENOTFOUND';
      throw error;
    }
    return (originalPromisesLookup as (...a: unknown[]) => Promise<never>)(hostname, ...rest);
  } as typeof dns.promises.lookup;

  return {
    violations,
    connections,
    uninstall() {
      net.Socket.prototype.connect = originalConnect;
      dns.lookup = originalLookup;
      dns.promises.lookup = originalPromisesLookup;
    },
  };
}
