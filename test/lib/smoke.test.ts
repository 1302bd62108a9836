/**
 * scripts/smoke.ts against the real laptop gateway (`npm start`'s server with the
 * embedded engine) on an ephemeral port: every check passes; with a wrong key the
 * guide calls fail and are reported, without the key ever being printed.
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayEnvFrom } from '../../local/config.js';
import { startGateway, type RunningGateway } from '../../local/gateway.js';
import { PROJECT_DIR } from '../../lib/config.js';
import { formatResult, runSmoke, type SmokeReport } from '../../scripts/smoke.js';

describe('runSmoke against the local gateway', () => {
  let gateway: RunningGateway;
  let report: SmokeReport;
  const lines: string[] = [];
  beforeAll(async () => {
    gateway = await startGateway(gatewayEnvFrom({ PORT: '0', API_KEYS: 'smoke-test-key-0123456789abcdef' }), { log: () => undefined });
    report = await runSmoke({ url: gateway.url, apiKey: gateway.apiKeys[0]!, log: (line) => lines.push(line) });
  }, 120_000);
  afterAll(async () => {
    await gateway?.close();
  });

  it('GIVEN the gateway WHEN smoke-tested THEN the guide calls and every error case pass', () => {
    const failed = report.results.filter((r) => !r.passed);
    expect(failed, failed.map(formatResult).join('\n')).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.results.map((r) => r.name)).toEqual([
      'GET /swagger/index.html (Swagger UI)',
      'guide 1: detect-faces (maxFaceCount 10)',
      'guide 2: get-face-embeddings (maxFaceCount 1)',
      'guide 3: compare-face-embeddings (a face with itself)',
      'extension: compare-face-embeddings-batch (equals the single compares)',
      'extension: verify-faces (the same photo twice)',
      'extension: verify-faces (image2 without a face) -> 400 naming image2',
      'error: no Authorization header -> 401',
      'error: unknown API key -> 401',
      'error: body is not JSON -> 400',
      'error: no image -> 400 naming image',
      'error: maxFaceCount 11 -> 400 naming maxFaceCount',
      'error: image.bytes is not an image -> 400',
      'error: compare without embedding1 -> 400 naming embedding1',
      'error: batch candidate of another length -> 400 naming embeddings[1]',
      'error: unknown path -> 404',
    ]);
  });

  it('THEN each result has its status and a latency', () => {
    const byName = Object.fromEntries(report.results.map((r) => [r.name, r]));
    expect(byName['guide 1: detect-faces (maxFaceCount 10)']!.status).toBe(200);
    expect(byName['error: unknown path -> 404']!.status).toBe(404);
    expect(byName['extension: verify-faces (the same photo twice)']).toMatchObject({ status: 200, note: 'similarity 100' });
    expect(byName['extension: verify-faces (image2 without a face) -> 400 naming image2']!.status).toBe(400);
    for (const result of report.results) expect(result.latencyMs).toBeGreaterThan(0);
    expect(lines).toHaveLength(report.results.length);
    expect(lines[1]).toMatch(/^PASS {2}200 +\d+ ms {2}guide 1: detect-faces \(maxFaceCount 10\): \d+ face\(s\)$/);
  });

  it('GIVEN a wrong key WHEN smoke-tested THEN the guide calls fail with 401 and the key is never printed', async () => {
    const wrongKey = 'not-the-right-key-abcdefghijklmnop';
    const printed: string[] = [];
    const bad = await runSmoke({ url: gateway.url, apiKey: wrongKey, docs: false, log: (line) => printed.push(line) });
    expect(bad.passed).toBe(false);
    const guide1 = bad.results.find((r) => r.name.startsWith('guide 1'))!;
    expect(guide1).toMatchObject({ passed: false, status: 401 });
    expect(guide1.note).toMatch(/expected 200, got 401/);
    expect(bad.results.find((r) => r.name.startsWith('guide 3'))!.note).toMatch(/skipped: no embedding/);
    expect(printed.join('\n')).not.toContain(wrongKey);
  }, 60_000);

  it('GIVEN a batch route that disagrees with the single compare WHEN smoke-tested THEN the batch step fails saying both answers', async () => {
    // Everything is relayed to the real gateway; only the batch answer is altered (each similarity minus one).
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', async () => {
        const upstream = await fetch(`${gateway.url}${req.url}`, { method: req.method, headers: req.headers as Record<string, string>, body: req.method === 'POST' ? Buffer.concat(chunks) : undefined });
        let text = await upstream.text();
        if (req.url?.endsWith('compare-face-embeddings-batch') && upstream.status === 200) {
          text = JSON.stringify({ similarities: (JSON.parse(text).similarities as number[]).map((s) => s - 1) });
        }
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(text);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const altered = await runSmoke({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKey: gateway.apiKeys[0]!, docs: false });
      const batch = altered.results.find((r) => r.name.startsWith('extension: compare-face-embeddings-batch'))!;
      expect(batch.passed).toBe(false);
      expect(batch.note).toMatch(/^batch answered \[-?\d+(, -?\d+){3}\], the single compares \[-?\d+(, -?\d+){3}\]$/);
      expect(altered.results.filter((r) => !r.passed)).toHaveLength(1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 60_000);

  it('GIVEN nothing listening WHEN smoke-tested THEN every check fails as a request failure instead of throwing', async () => {
    const down = await runSmoke({ url: 'http://127.0.0.1:9', apiKey: 'k', docs: false, timeoutMs: 2000 });
    expect(down.passed).toBe(false);
    expect(down.results.every((r) => !r.passed && r.status === 0)).toBe(true);
    expect(down.results[0]!.note).toMatch(/^request failed/);
  });
});

describe('npm run smoke (the CLI)', () => {
  it('GIVEN no --url WHEN run THEN it prints the usage and exits 2', () => {
    const result = spawnSync('npx', ['tsx', 'scripts/smoke.ts'], { cwd: PROJECT_DIR, encoding: 'utf8', env: { ...process.env, SMOKE_API_KEY: '' } });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/usage: npm run smoke -- --url <base URL> --api-key <key>/);
  });
});
