/**
 * `npm run cli` for real: the CLI runs as `npm run` runs it (node + tsx, its own process) against
 * the real local gateway with the embedded engine, against the 127.0.0.1 contract server for the
 * two extensions, against a scripted server for 429, and against a stopped port.
 * Exit codes: 0 ok, 2 usage/input, 3 API error, 4 network. The key is never printed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, embeddingFrom, embeddingsFrom } from '../../client/cli.js';
import { PROJECT_DIR } from '../../lib/config.js';
import { answerJson, startFakeBackend, type FakeBackend } from '../helpers/fake-backend.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { samplePath } from '../helpers/images.js';
import { startContractServer, VERIFY_ANSWER, type ContractServer } from './contract-server.js';

const KEY = 'cli-test-key-SECRET-0123456789';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI with only the given FACE_VERIFICATION_* variables (none inherited). */
async function cli(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const run = await spawnCli(args, env);
  // Whatever happened, the key or token never reaches the terminal.
  expect(`${run.stdout}${run.stderr}`).not.toContain('SECRET');
  return run;
}

function spawnCli(args: readonly string[], env: Record<string, string>): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FACE_VERIFICATION_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'client/cli.ts', ...args], { cwd: PROJECT_DIR, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'face-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
const file = (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe('npm run cli against the real gateway', () => {
  let gw: TestGateway;
  let env: Record<string, string>;
  beforeAll(async () => {
    gw = await startTestGateway({ API_KEYS: KEY });
    env = { FACE_VERIFICATION_URL: gw.url, FACE_VERIFICATION_API_KEY: KEY };
  });
  afterAll(async () => {
    await gw?.close();
  });
  const requests = () => gw.logs.filter((line) => line.includes('"msg":"request"')).length;

  it('GIVEN a photo WHEN detect --max-face-count 3 THEN the answer is JSON on stdout, nothing on stderr, exit 0', async () => {
    const run = await cli(['detect', samplePath(1), '--max-face-count', '3'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(EXIT.ok);
    const answer = JSON.parse(run.stdout) as { faces: unknown[]; unprocessedFaceCount: number };
    expect(answer.faces).toHaveLength(3);
    expect(answer.unprocessedFaceCount).toBe(0);
  }, 60_000);

  it('GIVEN embed answers saved to files WHEN compare THEN the same face is 100; arrays and {embedding} files work too', async () => {
    // Flags before the command, and the URL and key as flags instead of variables.
    const a = await cli(['--url', gw.url, '--api-key', KEY, 'embed', samplePath(2)]);
    expect(a.code).toBe(EXIT.ok);
    const e1 = file('e1.json', a.stdout);
    const b = await cli(['embed', samplePath(3)], env);
    const e2 = file('e2.json', b.stdout);
    const embedding = (JSON.parse(a.stdout) as { faces: Array<{ embedding: number[] }> }).faces[0]!.embedding;
    const same = await cli(['compare', e1, file('raw.json', JSON.stringify(embedding))], env);
    expect([same.code, JSON.parse(same.stdout)]).toEqual([EXIT.ok, { similarity: 100 }]);
    const other = await cli(['compare', e1, e2], env);
    expect(other.code).toBe(EXIT.ok);
    expect((JSON.parse(other.stdout) as { similarity: number }).similarity).toBeLessThan(100);
    const wrapped = await cli(['compare', file('obj.json', JSON.stringify({ embedding })), e1], env);
    expect(JSON.parse(wrapped.stdout)).toEqual({ similarity: 100 });
  }, 120_000);

  it('GIVEN a file that is not an image WHEN detect THEN exit 3 and one stderr line naming the field, the problem type and the request id', async () => {
    const run = await cli(['detect', join(PROJECT_DIR, 'package.json')], env);
    expect(run.code).toBe(EXIT.api);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^detect: HTTP 400 urn:face-verification:problem:validation-error: image\.bytes: must be a JPEG or PNG image \(request id [0-9a-f-]{36}\)\n$/);
  }, 60_000);

  it('GIVEN a wrong key WHEN detect THEN exit 3 with the 401; with no key at all the message says how to give one', async () => {
    const wrong = await cli(['detect', samplePath(1)], { ...env, FACE_VERIFICATION_API_KEY: 'wrong-SECRET-key' });
    expect(wrong.code).toBe(EXIT.api);
    expect(wrong.stderr).toMatch(/HTTP 401 urn:face-verification:problem:unauthorized/);
    const none = await cli(['detect', samplePath(1), '--url', gw.url]);
    expect(none.code).toBe(EXIT.api);
    expect(none.stderr).toMatch(/HTTP 401 .*set FACE_VERIFICATION_API_KEY or --api-key/);
  }, 60_000);

  it('GIVEN an image file over the payload limit WHEN detect THEN exit 3 with the 413', async () => {
    const run = await cli(['detect', file('big.jpg', Buffer.alloc(5 * 1024 * 1024, 0xff))], env);
    expect(run.code).toBe(EXIT.api);
    expect(run.stderr).toMatch(/HTTP 413 urn:face-verification:problem:payload-too-large/);
  }, 60_000);

  it('GIVEN bad command lines or input files WHEN run THEN exit 2 and nothing is sent', async () => {
    const before = requests();
    const cases: Array<[string[], RegExp]> = [
      [['detect'], /detect takes <image>, got 0 arguments/],
      [['verify', samplePath(1)], /verify takes <image1> <image2>, got 1 argument/],
      [['detect', join(dir, 'missing.jpg')], /cannot read .*missing\.jpg: ENOENT/],
      [['detect', samplePath(1), '--max-face-count', 'many'], /--max-face-count must be an integer/],
      [['compare', file('bad.json', '{'), file('ok.json', '[1]')], /bad\.json is not valid JSON/],
      [['compare', file('two.json', JSON.stringify({ faces: [{ embedding: [1] }, { embedding: [2] }] })), file('ok2.json', '[1]')], /holds 2 faces/],
      [['compare-batch', file('p.json', '[1]'), file('c.json', '{"x":1}')], /holds no candidates/],
      [['detect', samplePath(1), '--bearer-token', 'tok'], /not both/],
      [['detect', samplePath(1), '--url', 'ftp://x'], /baseUrl must be http or https/],
      [['detect', samplePath(1), '--max-face-count'], /--max-face-count <value>' argument missing/],
      [['nosuch'], /unknown name "nosuch"; known: detect, embed, compare, verify, compare-batch/],
      [[], /a command is required/],
    ];
    for (const [args, message] of cases) {
      const run = await cli(args, env);
      expect(run.code, args.join(' ')).toBe(EXIT.usage);
      expect(run.stderr, args.join(' ')).toMatch(message);
      expect(run.stdout).toBe('');
    }
    expect(requests()).toBe(before);
  }, 240_000);

  it('GIVEN --help after a command WHEN run THEN that command\'s usage, exit 0', async () => {
    const run = await cli(['compare', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^usage: npm run -s cli -- compare <embedding1\.json> <embedding2\.json>/);
    expect(run.stdout).toMatch(/get-face-embeddings answer with exactly one face/);
    expect(run.stdout).toMatch(/exit codes: 0 success/);
  }, 60_000);
});

describe('npm run cli against a rate-limited gateway', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    // One request per 5 s: slow enough that the CLI's own start-up does not refill the bucket.
    gw = await startTestGateway({ API_KEYS: KEY, RATE_LIMIT_RPS: '0.2', RATE_LIMIT_BURST: '1' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('GIVEN the key\'s token spent WHEN compare THEN the gateway answers 429 + Retry-After, the CLI says so, waits, and the retry succeeds', async () => {
    const e = file('rl.json', '[1, 0, 0]');
    expect((await gw.post('/v1/face-verification/compare-face-embeddings', { embedding1: [1], embedding2: [1] }, { authorization: `ApiKey ${KEY}` })).status).toBe(200);
    const started = performance.now();
    const run = await cli(['compare', e, e], { FACE_VERIFICATION_URL: gw.url, FACE_VERIFICATION_API_KEY: KEY });
    const elapsed = performance.now() - started;
    expect(run.code).toBe(EXIT.ok);
    expect(JSON.parse(run.stdout)).toEqual({ similarity: 100 });
    const retries = [...run.stderr.matchAll(/^HTTP 429: retrying in (\d+\.\d) s \(Retry-After (\d+) s\)$/gm)].map((m) => ({ wait: Number(m[1]), retryAfter: Number(m[2]) }));
    const waits = retries.map((r) => r.wait);
    expect(waits.length).toBeGreaterThanOrEqual(1);
    const statuses = gw.logs.map((line) => JSON.parse(line)).filter((l) => l.msg === 'request').map((l) => l.status as number);
    expect(statuses).toEqual([200, ...waits.map(() => 429), 200]);
    // Each wait honoured the gateway's Retry-After (whole seconds, at least 1).
    for (const { wait, retryAfter } of retries) {
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(wait).toBeGreaterThanOrEqual(retryAfter);
    }
    expect(elapsed).toBeGreaterThanOrEqual(waits[0]! * 1000);
  }, 60_000);
});

describe('npm run cli: extensions, 429 and a stopped server', () => {
  let contract: ContractServer;
  let fake: FakeBackend;
  beforeAll(async () => {
    contract = await startContractServer();
    fake = await startFakeBackend();
  });
  afterAll(async () => {
    await contract?.close();
    await fake?.close();
  });

  it('GIVEN two photos WHEN verify THEN the verify-faces answer on stdout, with a bearer token from the environment', async () => {
    contract.received.length = 0;
    const run = await cli(['verify', samplePath(1), samplePath(2)], { FACE_VERIFICATION_URL: contract.url, FACE_VERIFICATION_BEARER_TOKEN: 'eyJ.SECRET.x' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual(VERIFY_ANSWER);
    expect(contract.received.map((r) => r.authorization)).toEqual(['Bearer eyJ.SECRET.x']);
  }, 60_000);

  it('GIVEN a probe and a candidates file WHEN compare-batch THEN one similarity per candidate; a bad candidate is exit 3 naming it', async () => {
    const probe = file('probe.json', JSON.stringify([1, 0, 0]));
    const ok = await cli(['compare-batch', probe, file('cands.json', JSON.stringify({ embeddings: [[1, 0, 0], [0, 1, 0], [-1, 0, 0]] }))], { FACE_VERIFICATION_URL: contract.url });
    expect(ok.code).toBe(EXIT.ok);
    const { similarities } = JSON.parse(ok.stdout) as { similarities: number[] };
    expect(similarities).toHaveLength(3);
    expect(similarities[0]).toBe(100);
    expect(similarities[0]!).toBeGreaterThan(similarities[2]!);
    const bad = await cli(['compare-batch', probe, file('cands2.json', JSON.stringify([[1, 0, 0], [1, 0]]))], { FACE_VERIFICATION_URL: contract.url });
    expect(bad.code).toBe(EXIT.api);
    expect(bad.stderr).toMatch(/HTTP 400 .*embeddings\[1\]: must have the same length as embedding \(3\), got 2/);
  }, 60_000);

  it('GIVEN a 429 with Retry-After 1 WHEN compare THEN the CLI says it retries, waits, and succeeds; with --retries 0 exit 3 telling when to retry', async () => {
    let calls = 0;
    fake.behave((_req, _body, res) => {
      calls++;
      if (calls === 1) res.writeHead(429, { 'content-type': 'application/problem+json', 'retry-after': '1' }).end(JSON.stringify({ type: 'urn:face-verification:problem:too-many-requests', title: 'Too many requests', status: 429, detail: 'Rate limit exceeded.' }));
      else answerJson(200, { similarity: 77 })(_req, _body, res);
    });
    const e = file('e.json', '[1, 2]');
    const run = await cli(['compare', e, e], { FACE_VERIFICATION_URL: fake.url });
    expect(run.code).toBe(EXIT.ok);
    expect(run.stderr).toMatch(/^HTTP 429: retrying in 1\.\d s \(Retry-After 1 s\)\n$/);
    expect(JSON.parse(run.stdout)).toEqual({ similarity: 77 });
    calls = 0;
    const once = await cli(['compare', e, e, '--retries', '0'], { FACE_VERIFICATION_URL: fake.url });
    expect(once.code).toBe(EXIT.api);
    expect(once.stderr).toMatch(/HTTP 429 urn:face-verification:problem:too-many-requests: Rate limit exceeded\. \(retry after 1 s\)/);
  }, 60_000);

  it('GIVEN a stopped server WHEN any command THEN exit 4 and a one-line "connection refused"', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const run = await cli(['verify', samplePath(1), samplePath(2)], { FACE_VERIFICATION_URL: `http://127.0.0.1:${port}`, FACE_VERIFICATION_API_KEY: KEY });
    expect(run.code).toBe(EXIT.network);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`verify: could not reach http://127.0.0.1:${port} (verifyFaces): connection refused (is the server running?)\n`);
  }, 60_000);
});

describe('embedding files the CLI accepts', () => {
  it('embeddingFrom takes an array, {embedding}, or a one-face get-face-embeddings answer', () => {
    expect(embeddingFrom([1, 2], 'f')).toEqual([1, 2]);
    expect(embeddingFrom({ embedding: [3] }, 'f')).toEqual([3]);
    expect(embeddingFrom({ faces: [{ face: {}, embedding: [4, 5] }], unprocessedFaceCount: 0 }, 'f')).toEqual([4, 5]);
    expect(() => embeddingFrom({ faces: [] }, 'f')).toThrow(/holds 0 faces/);
    expect(() => embeddingFrom(['1'], 'f')).toThrow(/holds no embedding/);
    expect(() => embeddingFrom(null, 'f')).toThrow(/holds no embedding/);
  });

  it('embeddingsFrom takes an array of arrays, {embeddings}, or every face of a get-face-embeddings answer', () => {
    expect(embeddingsFrom([[1], [2]], 'f')).toEqual([[1], [2]]);
    expect(embeddingsFrom({ embeddings: [[3]] }, 'f')).toEqual([[3]]);
    expect(embeddingsFrom({ faces: [{ embedding: [4] }, { embedding: [5] }] }, 'f')).toEqual([[4], [5]]);
    expect(() => embeddingsFrom([1, 2], 'f')).toThrow(/holds no candidates/);
    expect(() => embeddingsFrom({ faces: [] }, 'f')).toThrow(/holds no candidates/);
  });
});
