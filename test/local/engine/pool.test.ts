/**
 * The engine's worker pool behind the real HTTP server: real worker threads with
 * the real models, started from a test entry (fixtures/hooked-worker.mjs) whose
 * hooks play a stalled, a crashing and a gated job, keyed on a marker in the
 * image bytes. No assertion times anything: each checks what is answered while
 * another job is still pending.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayEnvFrom } from '../../../local/config.js';
import { startEngineServer, type EngineServer } from '../../../local/engine/server.js';
import type { EnginePool } from '../../../local/engine/pool.js';
import { WORKER_NICE } from '../../../local/engine/thread-priority.js';
import { sample } from './samples.js';

const DETECT = '/v1/face-verification/detect-faces';
/** Long enough that a real detect on the other worker finishes first even on a busy machine. */
const JOB_TIMEOUT_MS = 12_000;
/** Tests that wait for a deadline or a worker's replacement (models load again). */
const SLOW = 90_000;

let server: EngineServer;
let pool: EnginePool;
const loggedErrors: string[] = [];
const sample1 = sample(1).toString('base64');
/** A JPEG signature (so the contract's format check passes) followed by a hook's marker: no image. */
const marker = (text: string) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(text, 'latin1')]).toString('base64');

beforeAll(async () => {
  server = await startEngineServer({
    logError: (line) => loggedErrors.push(line),
    engineOptions: { workers: 2, maxWaiting: 2, jobTimeoutMs: JOB_TIMEOUT_MS, workerUrl: new URL('./fixtures/hooked-worker.mjs', import.meta.url) },
  });
  pool = server.engine as EnginePool;
  await server.engine.ready;
});

afterAll(async () => {
  await server?.close();
});

const detect = (bytes: string) =>
  fetch(server.url + DETECT, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: { bytes }, maxFaceCount: 10 }) });

/** A request plus whether it has been answered yet. */
function pending(bytes: string) {
  const state = { settled: false, response: undefined as Response | undefined };
  const done = detect(bytes).then((res) => {
    state.settled = true;
    state.response = res;
    return res;
  });
  return { state, done };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function expectProblem(res: Response, status: number, kind: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as { type: string; status: number; detail: string };
  expect(body).toMatchObject({ type: `urn:face-verification:problem:${kind}`, status });
  expect(body.detail.length).toBeGreaterThan(0);
  return body;
}

async function expectHealthy(): Promise<void> {
  const health = await fetch(`${server.url}/health`);
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: 'ok' });
}

async function expectSample1Faces(res: Response): Promise<void> {
  expect(res.status).toBe(200);
  const body = (await res.json()) as { faces: unknown[] };
  expect(body.faces).toHaveLength(3);
}

describe('engine worker pool', () => {
  it('starts one worker per requested thread, with the models loaded in each', () => {
    expect(pool.stats()).toEqual({ workers: 2, busy: 0, replaced: 0 });
    expect(pool.info).toMatchObject({ workers: 2, backend: 'wasm' });
  });

  it.runIf(existsSync('/proc/thread-self'))('runs the workers at nice 10 and leaves the serving thread at its own priority (Linux)', () => {
    // Field 19 of /proc/<pid>/task/<tid>/stat is the nice value (proc(5)); the comm field may hold spaces, so split after ')'.
    const niceOf = (statPath: string) => Number(readFileSync(statPath, 'utf8').split(') ')[1]!.split(' ')[16]);
    const before = niceOf('/proc/thread-self/stat');
    const niced = readdirSync('/proc/self/task').filter((tid) => niceOf(`/proc/self/task/${tid}/stat`) === before + WORKER_NICE);
    expect(niced.length).toBeGreaterThanOrEqual(2);
    expect(niceOf('/proc/thread-self/stat')).toBe(before);
  });

  it('runs two jobs at once on two different worker threads, and answers /health while both compute', async () => {
    const channel = new BroadcastChannel('engine-pool-test');
    const started: number[] = [];
    channel.onmessage = (event: MessageEvent) => started.push((event.data as { threadId: number }).threadId);
    try {
      const a = pending(marker('TEST-GATE'));
      const b = pending(marker('TEST-GATE'));
      await until(() => started.length === 2, 'both gated jobs to start');
      // Both jobs are inside a worker at the same time, on two threads.
      expect(new Set(started).size).toBe(2);
      expect(pool.stats().busy).toBe(2);
      await expectHealthy();
      expect(a.state.settled || b.state.settled).toBe(false);
      channel.postMessage('release');
      // Released, each goes on with its (non-image) bytes and is refused as such.
      await expectProblem(await a.done, 400, 'image-rejected');
      await expectProblem(await b.done, 400, 'image-rejected');
    } finally {
      channel.close();
    }
  });

  it('refuses requests beyond the waiting line with a 503 problem and Retry-After: 1 while the workers are busy', async () => {
    const channel = new BroadcastChannel('engine-pool-test');
    const started: number[] = [];
    channel.onmessage = (event: MessageEvent) => started.push((event.data as { threadId: number }).threadId);
    try {
      const running = [pending(marker('TEST-GATE')), pending(marker('TEST-GATE'))];
      await until(() => started.length === 2, 'both workers to be held');
      // maxWaiting 2: two more wait (not images: refused once a worker takes them), the fifth is refused.
      const waiting = [pending(marker('not an image')), pending(marker('not an image'))];
      await until(() => pool.waiting === 2, 'two requests to wait');
      const refused = await detect(sample1);
      const body = await expectProblem(refused, 503, 'service-unavailable');
      expect(refused.headers.get('retry-after')).toBe('1');
      // Refused before its 1 MB body was read and parsed (the server asks the pool first).
      expect(body.detail).toMatch(/every worker busy, the waiting line full/);
      await expectHealthy();
      expect([...running, ...waiting].some((r) => r.state.settled)).toBe(false);
      channel.postMessage('release');
      for (const r of [...running, ...waiting]) await expectProblem(await r.done, 400, 'image-rejected');
      // The line has drained: a real request is served.
      await expectSample1Faces(await detect(sample1));
    } finally {
      channel.close();
    }
  });

  it('keeps /health and the other worker answering while a job stalls, then answers the stalled one 504 and replaces its worker', async () => {
    const replacedBefore = pool.stats().replaced;
    const stalled = pending(marker('TEST-HANG'));
    await until(() => pool.stats().busy === 1, 'the stalled job to start');
    // While the job hangs, this thread answers and the other worker computes.
    await expectHealthy();
    await expectSample1Faces(await detect(sample1));
    await expectHealthy();
    expect(stalled.state.settled).toBe(false);

    const body = await expectProblem(await stalled.done, 504, 'gateway-timeout');
    expect(body.detail).toContain(`${JOB_TIMEOUT_MS} ms`);
    await until(() => pool.stats().replaced === replacedBefore + 1, 'the replacement');
    expect(loggedErrors.some((line) => line.includes('missed the'))).toBe(true);
    // Both workers serve again.
    const [r1, r2] = await Promise.all([detect(sample1), detect(sample1)]);
    await expectSample1Faces(r1);
    await expectSample1Faces(r2);
    expect(pool.stats()).toMatchObject({ workers: 2, busy: 0 });
  }, SLOW);

  it('answers the request of a crashed worker with a 503 problem, replaces the worker and serves the next requests', async () => {
    const replacedBefore = pool.stats().replaced;
    const crashed = await detect(marker('TEST-CRASH'));
    const body = await expectProblem(crashed, 503, 'service-unavailable');
    expect(crashed.headers.get('retry-after')).toBe('1');
    expect(body.detail).toMatch(/stopped/);
    expect(loggedErrors.some((line) => line.includes('worker thread failed: Error: test worker crash'))).toBe(true);
    await until(() => pool.stats().replaced === replacedBefore + 1, 'the replacement');
    await expectSample1Faces(await detect(sample1));
    const [r1, r2] = await Promise.all([detect(sample1), detect(sample1)]);
    await expectSample1Faces(r1);
    await expectSample1Faces(r2);
    expect(pool.stats()).toMatchObject({ workers: 2, busy: 0 });
  }, SLOW);

  it('gives a request waiting behind a crashing worker to its replacement', async () => {
    const channel = new BroadcastChannel('engine-pool-test');
    const started: number[] = [];
    channel.onmessage = (event: MessageEvent) => started.push((event.data as { threadId: number }).threadId);
    try {
      const replacedBefore = pool.stats().replaced;
      // One worker held at a gate, the other about to crash, a real request waiting behind both.
      const held = pending(marker('TEST-GATE'));
      await until(() => started.length === 1, 'the gated job to start');
      const crashing = pending(marker('TEST-CRASH'));
      // Taken by the second worker: seen busy, or already dead and being replaced.
      await until(() => pool.stats().busy === 2 || pool.stats().replaced > replacedBefore, 'the crashing job to reach a worker');
      const queued = pending(sample1);
      await expectProblem(await crashing.done, 503, 'service-unavailable');
      // Served by the replacement while the other worker is still held.
      await expectSample1Faces(await queued.done);
      expect(held.state.settled).toBe(false);
      expect(pool.stats().replaced).toBe(replacedBefore + 1);
      channel.postMessage('release');
      await expectProblem(await held.done, 400, 'image-rejected');
    } finally {
      channel.close();
    }
  }, SLOW);

  it('never logs image bytes: error lines carry names and messages only', () => {
    for (const line of loggedErrors) expect(line).not.toContain(sample1.slice(0, 40));
  });
});

describe('ENGINE_WORKERS', () => {
  it('is parsed by npm start\'s configuration: unset means one per core, else an integer from 1 to 64', () => {
    expect(gatewayEnvFrom({}).ENGINE_WORKERS).toBeUndefined();
    expect(gatewayEnvFrom({ ENGINE_WORKERS: '3' }).ENGINE_WORKERS).toBe(3);
    expect(() => gatewayEnvFrom({ ENGINE_WORKERS: '0' })).toThrow(/ENGINE_WORKERS: must be an integer from 1 to 64/);
    expect(() => gatewayEnvFrom({ ENGINE_WORKERS: 'two' })).toThrow(/ENGINE_WORKERS: must be an integer from 1 to 64/);
  });

  it('is refused by the stand-alone engine (local/engine/main.ts) before anything starts when it is not a worker count', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'local/engine/main.ts'], {
      cwd: fileURLToPath(new URL('../../../', import.meta.url)),
      env: { ...process.env, ENGINE_PORT: '0', ENGINE_WORKERS: '0' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('ENGINE_WORKERS must be an integer from 1 to 64, got "0"');
    expect(run.stdout).not.toMatch(/listening on/);
  });
});
