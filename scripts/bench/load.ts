/**
 * `npm run bench:load` (npx tsx scripts/bench/load.ts): the local gateway under
 * load, driven by autocannon, with the gateway in a child process (`local/server.ts`,
 * exactly what `npm start` runs) so its resident memory is measured alone.
 *
 * 1. Fast backend: 64 connections, a mix of the three calls (detect-faces and
 *    get-face-embeddings with a 640 px JPEG, compare-face-embeddings with two 128-d
 *    vectors), warm-up, then the measured run. Pass: zero errors, timeouts and non-2xx,
 *    and RSS under load at the end within 10 % of RSS under load just after warm-up
 *    (means of the first and last 10 s; idle points are reported too).
 * 2. Embedded engine: detect-faces + get-face-embeddings at 2, 8 and 32 connections.
 *    Pass: no errors or timeouts, overload answered with fast 503s (the engine's
 *    16-deep queue), and 200s whose p99 stays bounded (no growing backlog).
 *
 * LOAD_SECONDS (60), LOAD_WARMUP_SECONDS (15), LOAD_ENGINE_SECONDS (20) shorten a trial run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { availableParallelism } from 'node:os';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { PATHS } from '../../lambda/shared/contract.js';
import { cliOrExit } from '../cli.js';
import { fmt, isMain, machine, percentile, table } from './stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FACE_API_DIR = dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json'));
const sampleImagePath = (n: number) => join(FACE_API_DIR, 'demo', `sample${n}.jpg`);
const KEY = 'bench-load-key-0123456789abcdef';
/** The embedded engine's worker threads in the child processes (their default: one per core). */
const WORKERS = availableParallelism();
const seconds = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number of seconds`);
  return value;
};

/** Valid answers of the vendor contract, returned at once: the gateway is what is measured. */
const FACE = { confidence: 0.99, boundingBox: { x: 212, y: 96, width: 180, height: 220 } };
const FAST_ANSWERS: Record<string, string> = {
  [PATHS.detectFaces]: JSON.stringify({ faces: [FACE], unprocessedFaceCount: 0 }),
  [PATHS.getFaceEmbeddings]: JSON.stringify({ faces: [{ face: FACE, embedding: Array.from({ length: 128 }, (_, i) => Math.sin(i) / 8) }], unprocessedFaceCount: 0 }),
  [PATHS.compareFaceEmbeddings]: JSON.stringify({ similarity: 87 }),
};

export interface Child {
  readonly url: string;
  readonly pid: number;
  rssMiB(): number;
  stop(): Promise<void>;
}

/**
 * Starts a TypeScript entry with tsx's loader (node itself, so the pid is the server's)
 * and resolves with the URL it prints; other output is discarded (one log line per request).
 */
export async function spawnNode(script: string, env: Record<string, string>, announces: 'stdout' | 'stderr'): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', announces === 'stdout' ? 'pipe' : 'ignore', announces === 'stderr' ? 'pipe' : 'ignore'],
  });
  const stream = (announces === 'stdout' ? child.stdout : child.stderr)!;
  let text = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start:\n${text}`)), 60_000);
    stream.on('data', (chunk: Buffer) => {
      if (text.length < 10_000) text += chunk.toString('utf8');
      const match = /listening on (http:\/\/\S+)/.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then(() => reject(new Error(`${script} exited:\n${text}`)));
  });
  stream.resume();
  return {
    url,
    pid: child.pid!,
    rssMiB: () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? Number.NaN) / 1024,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** `local/server.ts`, exactly what `npm start` runs, on a free port. */
const spawnGateway = (env: Record<string, string>) => spawnNode('local/server.ts', { PORT: '0', API_KEYS: KEY, ...env }, 'stderr');

async function fastBackend(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(FAST_ANSWERS[req.url ?? ''] ?? '{}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

type Call = { name: string; path: string; body: string };

async function calls(): Promise<{ photo: Buffer; detect: Call; embed: Call; compare: Call }> {
  // A selfie-sized upload: face-api's sample2.jpg (one face) scaled to 640 px wide.
  const photo = await sharp(readFileSync(sampleImagePath(2))).resize({ width: 640 }).jpeg({ quality: 85 }).toBuffer();
  const image = JSON.stringify({ image: { bytes: photo.toString('base64') }, maxFaceCount: 1 });
  const v = Array.from({ length: 128 }, (_, i) => Math.cos(i) / 8);
  return {
    photo,
    detect: { name: 'detect-faces', path: PATHS.detectFaces, body: image },
    embed: { name: 'get-face-embeddings', path: PATHS.getFaceEmbeddings, body: image },
    compare: { name: 'compare-face-embeddings', path: PATHS.compareFaceEmbeddings, body: JSON.stringify({ embedding1: v, embedding2: v.map((x, i) => x + Math.sin(i) / 50) }) },
  };
}

interface Sample { readonly at: number; readonly status: number; readonly ms: number; readonly call: string }

interface Run {
  readonly result: autocannon.Result;
  readonly samples: Sample[];
  readonly rssSamples: number[];
}

/** One autocannon run cycling through `mix`; every response is recorded with its call name and status. */
async function drive(url: string, mix: readonly Call[], connections: number, duration: number, child: Child): Promise<Run> {
  const samples: Sample[] = [];
  const rssSamples: number[] = [];
  let lastCall = '';
  const started = performance.now();
  // Without a callback autocannon returns its event emitter, made thenable (its typings only show the promise).
  const instance = autocannon({
    url,
    connections,
    duration,
    timeout: 30,
    requests: mix.map((call) => ({
      method: 'POST' as const,
      path: call.path,
      headers: { 'content-type': 'application/json', authorization: `ApiKey ${KEY}` },
      body: call.body,
      // Called synchronously just before autocannon's 'response' event for the same answer.
      onResponse: () => {
        lastCall = call.name;
      },
    })),
  }) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    samples.push({ at: (performance.now() - started) / 1000, status, ms, call: lastCall });
  });
  const timer = setInterval(() => rssSamples.push(child.rssMiB()), 1000);
  const result = await instance;
  clearInterval(timer);
  return { result, samples, rssSamples };
}

const chunks = <T>(values: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(values.length / size) }, (_, i) => values.slice(i * size, (i + 1) * size));
const pct = (x: number) => `${x >= 0 ? '+' : ''}${fmt(x * 100, 1)} %`;
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const lat = (samples: readonly Sample[], p: number) => percentile([...samples.map((s) => s.ms)].sort((a, b) => a - b), p);

/** Runs both parts and returns the markdown section for docs/reliability.md. */
export async function runLoadBench(): Promise<string> {
  const duration = seconds('LOAD_SECONDS', 60);
  const warmup = seconds('LOAD_WARMUP_SECONDS', 15);
  const engineSeconds = seconds('LOAD_ENGINE_SECONDS', 20);
  const { photo, detect, embed, compare } = await calls();
  const failures: string[] = [];
  const out: string[] = [];

  // Part 1: fast backend, 64 connections, the three calls.
  const backend = await fastBackend();
  const gw = await spawnGateway({ BACKEND_URL: backend.url });
  const rssStart = gw.rssMiB();
  process.stderr.write(`load: fast backend, warm-up ${warmup} s...\n`);
  await drive(gw.url, [detect, embed, compare], 64, warmup, gw);
  await settle(1000);
  const rssWarm = gw.rssMiB();
  process.stderr.write(`load: fast backend, ${duration} s at 64 connections...\n`);
  const run = await drive(gw.url, [detect, embed, compare], 64, duration, gw);
  await settle(1000);
  const rssEnd = gw.rssMiB();
  await gw.stop();
  await backend.close();
  const r = run.result;
  const drift = (rssEnd - rssWarm) / rssWarm;
  // Under load, sampled each second: the first and the last 10 s of the measured run. A leak grows
  // between them; single idle points also move with when V8 last ran a major GC.
  const window = Math.min(10, Math.max(1, Math.floor(run.rssSamples.length / 3)));
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const rssEarly = mean(run.rssSamples.slice(0, window));
  const rssLate = mean(run.rssSamples.slice(-window));
  const steadyDrift = (rssLate - rssEarly) / rssEarly;
  const errors = r.errors + r.timeouts + r.non2xx;
  if (errors > 0) failures.push(`fast backend: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx`);
  if (Math.abs(steadyDrift) > 0.1) failures.push(`fast backend: RSS under load moved ${fmt(steadyDrift * 100, 1)} % from the first to the last ${window} s (limit 10 %)`);
  const perCall = [detect, embed, compare].map((call) => {
    const s = run.samples.filter((x) => x.call === call.name);
    return [call.name, s.length, fmt(lat(s, 50), 1), fmt(lat(s, 99), 1)];
  });
  const rssMax = Math.max(...run.rssSamples);
  out.push(
    '### Load: fast backend (gateway alone)',
    '',
    `${duration} s at 64 connections after a ${warmup} s warm-up; requests cycle detect-faces / get-face-embeddings (${photo.length}-byte 640 px JPEG, ${detect.body.length}-byte body) / compare-face-embeddings (two 128-d vectors, forwarded). Backend: a local HTTP server answering valid contract JSON at once. Gateway: \`local/server.ts\` in a child process.`,
    '',
    table(['requests', 'req/s', 'errors', 'timeouts', 'non-2xx', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'], [
      [r.requests.total, fmt(r.requests.average, 0), r.errors, r.timeouts, r.non2xx, fmt(r.latency.p50, 1), fmt(r.latency.p90, 1), fmt(r.latency.p99, 1), fmt(r.latency.max, 0)],
    ]),
    '',
    table(['call', 'answers', 'p50 ms', 'p99 ms'], perCall),
    '',
    `RSS under load, mean of each 10 s (MiB): ${chunks(run.rssSamples, 10).map((c) => fmt(mean(c), 0)).join(', ')}.`,
    '',
    table(['RSS MiB: at start (idle)', '1 s after warm-up (idle)', '1 s after the run (idle)', 'idle drift', `mean of first ${window} s under load`, `mean of last ${window} s under load`, 'drift under load (pass: within 10 %)', 'max'], [
      [fmt(rssStart, 0), fmt(rssWarm, 0), fmt(rssEnd, 0), pct(drift), fmt(rssEarly, 0), fmt(rssLate, 0), pct(steadyDrift), fmt(rssMax, 0)],
    ]),
    '',
  );

  // Part 2: the embedded engine, detect + embeddings, in the two topologies it can run in.
  const topologies = [
    { name: 'in the gateway process (`npm start`)', start: async () => ({ gateway: await spawnGateway({}), engine: undefined as Child | undefined }) },
    {
      name: 'in its own process (`local/engine/main.ts` + `BACKEND_URL`, like the container)',
      start: async () => {
        const engine = await spawnNode('local/engine/main.ts', { ENGINE_PORT: '0' }, 'stdout');
        return { gateway: await spawnGateway({ BACKEND_URL: engine.url }), engine };
      },
    },
  ];
  const rows: Array<Array<string | number>> = [];
  for (const topology of topologies) {
    const { gateway, engine } = await topology.start();
    // First inferences (WASM warm-up) outside the measurements.
    await (autocannon({ url: gateway.url, connections: 1, amount: 3, requests: [{ method: 'POST', path: detect.path, headers: { 'content-type': 'application/json', authorization: `ApiKey ${KEY}` }, body: detect.body }] }) as unknown as PromiseLike<autocannon.Result>);
    for (const connections of [2, 8, 32]) {
      process.stderr.write(`load: engine ${topology.name}, ${engineSeconds} s at ${connections} connections...\n`);
      const e = await drive(gateway.url, [detect, embed], connections, engineSeconds, engine ?? gateway);
      const ok = e.samples.filter((s) => s.status === 200);
      const busy = e.samples.filter((s) => s.status === 503 || s.status === 429);
      const other = e.samples.filter((s) => s.status !== 200 && s.status !== 503 && s.status !== 429);
      const half = engineSeconds / 2;
      const p99First = lat(ok.filter((s) => s.at < half), 99);
      const p99Second = lat(ok.filter((s) => s.at >= half), 99);
      const bad = e.result.errors + e.result.timeouts + other.length;
      // A growing backlog shows as latency that keeps rising during the run; a bounded queue
      // (16 waiting + one running per worker thread, one worker per core) keeps a 200 within
      // ~(16 + workers) mean service times (1 / throughput each).
      const bound = ((16 + WORKERS) / Math.max(ok.length / engineSeconds, 0.01)) * 1000;
      rows.push([
        topology.name.split(' (')[0]!,
        connections,
        fmt(ok.length / engineSeconds, 2),
        fmt(lat(ok, 50), 0),
        fmt(lat(ok, 99), 0),
        `${fmt(p99First, 0)} / ${fmt(p99Second, 0)}`,
        fmt(bound, 0),
        busy.length,
        busy.length ? `${fmt(lat(busy, 50), 0)} / ${fmt(lat(busy, 99), 0)}` : '-',
        bad,
        fmt(Math.max(...e.rssSamples), 0),
      ]);
      if (bad > 0) failures.push(`engine ${topology.name} at ${connections}: ${e.result.errors} errors, ${e.result.timeouts} timeouts, ${other.length} other statuses`);
      if (p99Second > 1.5 * p99First + 1000) failures.push(`engine ${topology.name} at ${connections}: p99 of 200s rose from ${fmt(p99First, 0)} to ${fmt(p99Second, 0)} ms during the run (growing backlog)`);
      if (p99Second > 2 * bound) failures.push(`engine ${topology.name} at ${connections}: p99 of 200s ${fmt(p99Second, 0)} ms, over twice the queue bound ${fmt(bound, 0)} ms`);
      // "Fast": a refused client can act on Retry-After: 1; an answer slower than that is not a fast refusal.
      if (busy.length > 0 && lat(busy, 99) > 1000) failures.push(`engine ${topology.name} at ${connections}: overload (503) answers p50 ${fmt(lat(busy, 50), 0)} ms, p99 ${fmt(lat(busy, 99), 0)} ms (> 1,000 ms: not fast)`);
      await settle(2000);
    }
    await gateway.stop();
    await engine?.stop();
  }
  out.push(
    '### Load: embedded engine',
    '',
    `${engineSeconds} s per level; requests alternate detect-faces / get-face-embeddings with the same 640 px JPEG (one face). The engine runs one inference per worker thread (${WORKERS}: one per core) and lets 16 requests wait; the rest are refused with 503 + Retry-After. "RSS" is the engine's process.`,
    '',
    table(['engine', 'connections', '200/s', 'p50 ms (200)', 'p99 ms (200)', 'p99 (200) first / second half', `queue bound ms (${16 + WORKERS} / throughput)`, '503s', '503 p50 / p99 ms', 'errors + timeouts + other', 'max RSS MiB'], rows),
    '',
  );

  out.unshift(
    '## Load (bench: `npm run bench:load`)',
    '',
    `Machine: ${machine()}. Run: ${new Date().toISOString()}.`,
    '',
  );
  out.push(
    failures.length === 0
      ? '**Result: pass** (zero errors, RSS under load within 10 %, no errors or timeouts under overload, overload refused within 1 s, no growing backlog).'
      : `**Result: FAIL**\n\n${failures.map((f) => `- ${f}`).join('\n')}`,
  );
  if (failures.length > 0) process.exitCode = 1;
  return out.join('\n');
}

/** `npm run bench:load -- --help`. */
export const LOAD_USAGE = `usage: npm run bench:load [-- --help]

Drives the local gateway (a child process running local/server.ts) with autocannon:
a fast fake backend at 64 connections, then the embedded engine at 2, 8 and 32
connections. Prints Markdown; exit code 1 when a pass condition fails. Runs for at
least LOAD_WARMUP_SECONDS + LOAD_SECONDS + 3 x LOAD_ENGINE_SECONDS (135 s with the
defaults); nothing leaves 127.0.0.1. Not part of npm test.

Environment: LOAD_SECONDS (60), LOAD_WARMUP_SECONDS (15), LOAD_ENGINE_SECONDS (20).
  -h, --help   this text`;

if (isMain(import.meta.url)) {
  cliOrExit(process.argv.slice(2), { usage: LOAD_USAGE });
  runLoadBench().then(
    (markdown) => console.log(markdown),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
