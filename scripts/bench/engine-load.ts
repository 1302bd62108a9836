/**
 * `npm run bench -- engine-load`: the embedded engine under load, as issue 13 measures it.
 * The engine server (`local/engine/main.ts`, what a `BACKEND_URL` stand-in runs; `npm start`
 * runs the same server inside the gateway) runs in a child process with ENGINE_WORKERS
 * = 1 and = 2, so the load generator's own event loop is not on the measured thread.
 *
 * - Throughput: 8 clients, each posting detect-faces with face-api's six sample
 *   photos (1920 px wide; sample1 is 1920x1280, the others 1350-1537 px high; maxFaceCount 10) in a loop (from a thread of their own), for ENGINE_LOAD_SECONDS (40) per engine in 4
 *   alternating rounds; answers per second with 2 workers against 1 worker (target >= 1.6x on
 *   2 cores). A prober on the main thread GETs /health every 100 ms meanwhile (target p99 <= 50 ms).
 * - Overload: 2 workers, 32 clients (more than 2 running + 16 waiting), for half as long;
 *   p99 of the 503 answers and of /health (target <= 50 ms each).
 * - Memory: the child's RSS once ready with 1 and 2 workers (the difference is one
 *   worker's models, WASM heap and module graph), and its start line.
 * Every request goes to 127.0.0.1; run it in a loopback-only namespace:
 *   unshare -rn sh -c 'ip link set lo up && npm run bench -- engine-load'
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { PATHS } from '../../lambda/shared/contract.js';
import { spawnNode } from './load.js';
import { fmt, isMain, machine, percentile, table } from './stats.js';

const FACE_API_DIR = dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json'));
const HEALTH_TARGET_MS = 50;
const THROUGHPUT_TARGET = 1.6;
/** Alternating 1-worker / 2-worker rounds of the 8-client run. */
const ROUNDS = 4;

const p = (values: readonly number[], q: number) => percentile([...values].sort((a, b) => a - b), q);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** face-api's six sample photos (1920 px wide, 1280-1537 px high), as detect-faces request bodies. */
async function sampleBodies(): Promise<{ names: string[]; bodies: string[] }> {
  const dir = join(FACE_API_DIR, 'demo');
  const names: string[] = [];
  const bodies: string[] = [];
  for (const name of readdirSync(dir).filter((f) => /^sample\d+\.jpg$/.test(f)).sort()) {
    const bytes = readFileSync(join(dir, name));
    const meta = await sharp(bytes).metadata();
    names.push(`${name} (${meta.width}x${meta.height})`);
    bodies.push(JSON.stringify({ image: { bytes: bytes.toString('base64') }, maxFaceCount: 10 }));
  }
  if (bodies.length === 0) throw new Error(`no sample photos in ${dir}`);
  return { names, bodies };
}

/**
 * The load clients (plain JavaScript for a worker thread): `clients` loops posting detect-faces
 * until `end`; a refused client backs off 50 ms instead of spinning (Retry-After says 1 s).
 */
const CLIENTS_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, bodies, clients, end } = workerData;
const ok = [], busy = [];
let other = 0;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function client(k) {
  for (let i = k; Date.now() < end; i++) {
    const started = performance.now();
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[i % bodies.length] });
      await res.arrayBuffer();
      const ms = performance.now() - started;
      if (res.status === 200) ok.push(ms);
      else if (res.status === 503) { busy.push(ms); await sleep(50); }
      else other++;
    } catch {
      other++;
    }
  }
}
Promise.all(Array.from({ length: clients }, (_, k) => client(k))).then(() => parentPort.postMessage({ ok, busy, other }));
`;

interface Phase {
  readonly ok: number[];
  readonly busy: number[];
  readonly other: number;
  readonly health: number[];
  readonly healthFailures: number;
  readonly seconds: number;
}

/** `clients` loops posting detect-faces for `seconds`, plus a /health prober every 100 ms. */
async function drive(url: string, bodies: readonly string[], clients: number, seconds: number): Promise<Phase> {
  const ok: number[] = [];
  const busy: number[] = [];
  const health: number[] = [];
  let other = 0;
  let healthFailures = 0;
  const end = performance.now() + seconds * 1000;
  const prober = async () => {
    while (performance.now() < end) {
      const started = performance.now();
      try {
        const res = await fetch(`${url}/health`);
        await res.arrayBuffer();
        if (res.status === 200) health.push(performance.now() - started);
        else healthFailures++;
      } catch {
        healthFailures++;
      }
      await sleep(100);
    }
  };
  const started = performance.now();
  // The clients run on a thread of their own: posting 1-2 MB bodies keeps an event loop busy, and
  // /health's latency must be the server's, not the queue of the prober's own event loop.
  const clientsDone = new Promise<{ ok: number[]; busy: number[]; other: number }>((resolve, reject) => {
    const worker = new Worker(CLIENTS_SOURCE, { eval: true, workerData: { url: url + PATHS.detectFaces, bodies, clients, end: Date.now() + seconds * 1000 } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const [load] = await Promise.all([clientsDone, prober()]);
  ok.push(...load.ok);
  busy.push(...load.busy);
  other += load.other;
  return { ok, busy, other, health, healthFailures, seconds: (performance.now() - started) / 1000 };
}

/** Runs the benchmark and returns its Markdown section. */
export async function runEngineLoadBench(): Promise<string> {
  const seconds = Number(process.env.ENGINE_LOAD_SECONDS ?? 40);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error('ENGINE_LOAD_SECONDS must be a positive number');
  const { names, bodies } = await sampleBodies();
  const rows: (string | number)[][] = [];
  const memory: (string | number)[][] = [];
  const throughput: Record<number, number> = {};
  let overload: Phase | undefined;
  const failures: string[] = [];

  // Both engines run side by side (the idle one costs no CPU) and are driven in alternating rounds,
  // so a noisy minute on this shared machine hits the 1- and the 2-worker figures alike.
  const engines: Record<number, Awaited<ReturnType<typeof spawnNode>>> = {};
  const runs: Record<number, Phase[]> = { 1: [], 2: [] };
  try {
    for (const workers of [1, 2]) {
      process.stderr.write(`engine-load: ${workers} worker(s): starting...\n`);
      engines[workers] = await spawnNode('local/engine/main.ts', { ENGINE_PORT: '0', ENGINE_WORKERS: String(workers) }, 'stdout');
      // Warm-up (WASM memory growth at this size) outside the measurement: every sample once per worker.
      await drive(engines[workers]!.url, bodies, workers * bodies.length, 3);
      await sleep(500);
      memory.push([workers, fmt(engines[workers]!.rssMiB(), 0)]);
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const workers of [1, 2]) {
        process.stderr.write(`engine-load: round ${round}/${ROUNDS}, ${workers} worker(s): 8 clients for ${seconds / ROUNDS} s...\n`);
        const run = await drive(engines[workers]!.url, bodies, 8, seconds / ROUNDS);
        runs[workers]!.push(run);
        if (run.other + run.healthFailures > 0) failures.push(`${workers} worker(s), 8 clients, round ${round}: ${run.other} failed requests, ${run.healthFailures} failed health probes`);
        await sleep(500);
      }
    }
    for (const workers of [1, 2]) {
      const merged = mergePhases(runs[workers]!);
      throughput[workers] = merged.ok.length / merged.seconds;
      rows.push(phaseRow(`${workers}`, 8, merged));
    }
    process.stderr.write(`engine-load: 2 workers: 32 clients for ${seconds / 2} s (overload)...\n`);
    overload = await drive(engines[2]!.url, bodies, 32, seconds / 2);
    rows.push(phaseRow('2', 32, overload));
    if (overload.other + overload.healthFailures > 0) failures.push(`overload: ${overload.other} failed requests, ${overload.healthFailures} failed health probes`);
  } finally {
    await Promise.all(Object.values(engines).map((engine) => engine.stop()));
  }
  const roundRatios = runs[2]!.map((run, i) => run.ok.length / run.seconds / (runs[1]![i]!.ok.length / runs[1]![i]!.seconds));

  const ratio = throughput[2]! / throughput[1]!;
  const healthP99 = Math.max(...rows.map((r) => Number(r[6])));
  const busyP99 = overload && overload.busy.length > 0 ? p(overload.busy, 99) : Number.NaN;
  const verdict = (met: boolean) => (met ? 'met' : 'not met');
  return [
    '## Embedded engine under load (bench: `npm run bench -- engine-load`)',
    '',
    `Machine: ${machine()}. Run: ${new Date().toISOString()}.`,
    '',
    `The engine server (\`local/engine/main.ts\`) in a child process with ENGINE_WORKERS = 1 and 2; clients post detect-faces (maxFaceCount 10) with face-api's sample photos (${names.join(', ')}) in a loop from a thread of their own, a 50 ms pause after a 503; /health probed every 100 ms meanwhile from the benchmark's main thread. Both engines run at once and the 8-client runs alternate, ${ROUNDS} rounds of ${seconds / ROUNDS} s each per engine (per-round ratios 2 workers / 1 worker: ${roundRatios.map((r) => fmt(r, 2)).join(', ')}); then ${seconds / 2} s of overload on the 2-worker engine (32 clients: more than 2 running + 16 waiting). Warm-up pass first; workers run at nice 10 (local/engine/thread-priority.ts).`,
    '',
    table(['workers', 'clients', '200/s', 'p50 ms (200)', 'p99 ms (200)', '503s', '/health p99 ms', '/health max ms', '503 p50 / p99 ms'], rows),
    '',
    table(['workers', 'RSS MiB of the engine process, warm'], memory),
    '',
    table(['measure', 'figure', 'target', ''], [
      ['throughput, 2 workers / 1 worker (8 clients)', `${fmt(ratio, 2)}x`, `>= ${THROUGHPUT_TARGET}x`, verdict(ratio >= THROUGHPUT_TARGET)],
      ['/health p99 while detecting (worst run)', `${fmt(healthP99, 1)} ms`, `<= ${HEALTH_TARGET_MS} ms`, verdict(healthP99 <= HEALTH_TARGET_MS)],
      ['overload 503 p99', `${fmt(busyP99, 1)} ms`, `<= ${HEALTH_TARGET_MS} ms`, overload?.busy.length ? verdict(busyP99 <= HEALTH_TARGET_MS) : 'no 503 seen'],
    ]),
    '',
    failures.length === 0 ? 'No failed requests or health probes.' : `**Failures:**\n\n${failures.map((f) => `- ${f}`).join('\n')}`,
  ].join('\n');
}

/** The rounds of one engine as one phase (all answers, all probes, the summed time). */
function mergePhases(phases: readonly Phase[]): Phase {
  return {
    ok: phases.flatMap((x) => x.ok),
    busy: phases.flatMap((x) => x.busy),
    other: phases.reduce((n, x) => n + x.other, 0),
    health: phases.flatMap((x) => x.health),
    healthFailures: phases.reduce((n, x) => n + x.healthFailures, 0),
    seconds: phases.reduce((n, x) => n + x.seconds, 0),
  };
}

function phaseRow(workers: string, clients: number, run: Phase): (string | number)[] {
  return [
    workers,
    clients,
    fmt(run.ok.length / run.seconds, 2),
    fmt(p(run.ok, 50), 0),
    fmt(p(run.ok, 99), 0),
    run.busy.length,
    fmt(p(run.health, 99), 1),
    fmt(Math.max(...run.health), 1),
    run.busy.length ? `${fmt(p(run.busy, 50), 1)} / ${fmt(p(run.busy, 99), 1)}` : '-',
  ];
}

if (isMain(import.meta.url)) {
  runEngineLoadBench().then(
    (markdown) => console.log(markdown),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
