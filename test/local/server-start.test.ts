/**
 * What `npm start` prints before the first request (local/server.ts run for real, as npm runs it):
 * how to keep the generated key, and a warning when BACKEND_URL does not answer.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_DIR } from '../../lib/config.js';

/** Starts `npm start` (tsx local/server.ts) and resolves with its stderr once it says it is ready, then stops it. */
function startupOutput(env: Record<string, string>): Promise<{ stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/server.ts'], {
      cwd: PROJECT_DIR,
      env: { ...process.env, PORT: '0', API_KEYS: '', BACKEND_URL: '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('Ctrl+C stops the server')) child.kill('SIGTERM');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stderr, code });
    });
  });
}

function listen(handler: Parameters<typeof createServer>[1]): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

describe('npm start: what it prints at start', () => {
  let live: Server;
  let deadUrl: string;
  beforeAll(async () => {
    live = await listen((req, res) => {
      res.writeHead(req.url === '/swagger/index.html' ? 200 : 404).end('ok');
    });
    // A port that was just free: nothing listens there.
    const closed = await listen(() => undefined);
    deadUrl = urlOf(closed);
    await new Promise((resolve) => closed.close(resolve));
  });
  afterAll(() => new Promise((resolve) => live.close(resolve)));

  it('GIVEN no API_KEYS WHEN it starts THEN it prints the generated key and how to keep it with API_KEYS', async () => {
    const { stderr, code } = await startupOutput({});
    const key = /API key \(generated for this run; set API_KEYS to choose your own\): (local-[0-9a-f]{32})/.exec(stderr)?.[1];
    expect(key).toBeDefined();
    expect(stderr).toContain(`API_KEYS=${key} npm start`);
    expect(stderr).not.toMatch(/warning/);
    expect(code).toBe(0);
  }, 70_000);

  it('GIVEN a BACKEND_URL where nothing listens WHEN it starts THEN it warns once, naming the URL and what to check', async () => {
    const { stderr, code } = await startupOutput({ BACKEND_URL: deadUrl, API_KEYS: 'k-0123456789' });
    expect(stderr).toContain(`warning: BACKEND_URL ${deadUrl} did not answer GET /swagger/index.html (connection failed); requests answer 503 until it does.`);
    expect(stderr).toMatch(/docker compose up -d/);
    // The chosen key is the operator's own: it is not echoed.
    expect(stderr).not.toContain('k-0123456789');
    expect(code).toBe(0);
  }, 70_000);

  it('GIVEN a BACKEND_URL that answers its health path WHEN it starts THEN there is no warning', async () => {
    const { stderr } = await startupOutput({ BACKEND_URL: urlOf(live), API_KEYS: 'k-0123456789' });
    expect(stderr).toContain(`backend: ${urlOf(live)}`);
    expect(stderr).not.toMatch(/warning/);
  }, 70_000);

  it('GIVEN a BACKEND_URL that answers 404 on the health path WHEN it starts THEN the warning names the status', async () => {
    const { stderr } = await startupOutput({ BACKEND_URL: urlOf(live), API_KEYS: 'k-0123456789', HEALTH_PATH: '/nope' });
    expect(stderr).toContain('answered GET /nope with HTTP 404');
  }, 70_000);
});
