/**
 * `npm run calibrate -- --endpoint <base URL> --api-key <key> --out <file>`
 *
 * Probes the compare endpoint of any backend that speaks the contract (the local gateway in
 * forward mode, a bare engine or container, a deployed stage), recovers its score function as
 * a score table, verifies it, and writes it. See README "Calibrate the compare score".
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { PATHS } from '../lambda/shared/contract.js';
import { calibrate, type CalibrationResult } from './calibration/calibrate.js';
import { cliOrExit } from './cli.js';
import { createCompareProbe } from './calibration/probe.js';

export interface CalibrateCliOptions {
  endpoint: string;
  apiKey?: string;
  out: string;
  dimension?: number;
  backend?: string;
  imageDigest?: string;
  image?: string;
  seed?: number;
  randomPairs?: number;
  concurrency?: number;
}

const USAGE = `usage: npm run calibrate -- --endpoint <base URL> [--api-key <key>] --out <table.json>
  [--dimension <n>]        embedding length (default: learned from one get-face-embeddings call)
  [--image <jpeg|png>]     image for that call (default: the face-api sample photo)
  [--backend <text>]       description stored in the table (default: the endpoint)
  [--image-digest <sha>]   the container image digest, if known
  [--random-pairs <n>]     verification pairs (default 1000, at least 1000 for a deployable table)
  [--concurrency <n>]      parallel requests (default 8)
  The API key may also come from FACE_API_KEY.`;

const CALIBRATE_OPTIONS = {
  endpoint: { type: 'string' },
  'api-key': { type: 'string' },
  out: { type: 'string' },
  dimension: { type: 'string' },
  backend: { type: 'string' },
  'image-digest': { type: 'string' },
  image: { type: 'string' },
  seed: { type: 'string' },
  'random-pairs': { type: 'string' },
  concurrency: { type: 'string' },
} as const;

/** `npm run calibrate -- --help`: the usage text. */
export const CALIBRATE_USAGE = `${USAGE}
  Exit code 0: a verified table was written; 1: verification failed; 2: usage error; 3: the score is not a function of the cosine.
  -h, --help               this text`;

export function parseCalibrateArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CalibrateCliOptions {
  const { values } = parseArgs({
    args: argv,
    options: CALIBRATE_OPTIONS,
    strict: true,
  });
  if (!values.endpoint || !values.out) throw new Error(USAGE);
  const int = (name: string, raw: string | undefined, min: number) => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  return {
    endpoint: values.endpoint,
    apiKey: values['api-key'] ?? env.FACE_API_KEY,
    out: values.out,
    dimension: int('dimension', values.dimension, 2),
    backend: values.backend,
    imageDigest: values['image-digest'],
    image: values.image,
    seed: int('seed', values.seed, 0),
    randomPairs: int('random-pairs', values['random-pairs'], 1),
    concurrency: int('concurrency', values.concurrency, 1),
  };
}

/** Asks get-face-embeddings once for the embedding length. */
export async function learnDimension(endpoint: string, apiKey: string | undefined, imagePath: string): Promise<number> {
  const agent = new Agent();
  try {
    const body = `{"image":{"bytes":"${readFileSync(imagePath).toString('base64')}"},"maxFaceCount":1}`;
    const response = await request(`${endpoint.replace(/\/$/, '')}${PATHS.getFaceEmbeddings}`, {
      method: 'POST', dispatcher: agent, body,
      headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `ApiKey ${apiKey}` } : {}) },
    });
    const answer = (await response.body.json()) as { faces?: Array<{ embedding?: number[] }> };
    const length = answer.faces?.[0]?.embedding?.length;
    if (response.statusCode !== 200 || !length) throw new Error(`could not learn the embedding size (HTTP ${response.statusCode}); pass --dimension`);
    return length;
  } finally {
    await agent.close();
  }
}

export async function runCalibrate(options: CalibrateCliOptions, log: (line: string) => void = (l) => process.stderr.write(l)): Promise<CalibrationResult> {
  const image = options.image ?? new URL('../node_modules/@vladmandic/face-api/demo/sample1.jpg', import.meta.url).pathname;
  const dimension = options.dimension ?? (await learnDimension(options.endpoint, options.apiKey, image));
  log(`calibrate: ${options.endpoint}, embedding dimension ${dimension}\n`);
  const probe = createCompareProbe({ endpoint: options.endpoint, apiKey: options.apiKey, concurrency: options.concurrency ?? 8 });
  const statePath = `${options.out}.state.json`;
  if (existsSync(statePath)) log(`calibrate: resuming from ${statePath}\n`);
  const started = performance.now();
  let lastPhase = '';
  let lastPrint = 0;
  try {
    const result = await calibrate({
      probe,
      dimension,
      backend: options.backend ?? options.endpoint,
      endpoint: options.endpoint,
      imageDigest: options.imageDigest,
      seed: options.seed,
      randomPairs: options.randomPairs,
      statePath,
      onProgress: (phase, done, total) => {
        // At most two lines a second, plus the last of each phase.
        const now = performance.now();
        if (phase === lastPhase && done !== total && now - lastPrint < 500) return;
        lastPrint = now;
        if (phase !== lastPhase && lastPhase) log('\n');
        lastPhase = phase;
        log(`\r  ${phase}: ${done}/${total} (${probe.requests()} requests, ${((performance.now() - started) / 1000).toFixed(1)} s)`);
      },
    });
    log('\n');
    if (result.table) writeFileSync(options.out, `${JSON.stringify(result.table, null, 1)}\n`);
    if (result.ok) {
      rmSync(statePath, { force: true });
      const v = result.table.calibration.verification;
      log(`calibrate: wrote ${options.out}: ${result.table.boundaries.length} boundaries, ${v.randomPairs} random + ${v.straddlingPairs} straddling pairs reproduced exactly, ${probe.requests()} requests in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    } else {
      writeFileSync(`${options.out}.report.json`, `${JSON.stringify({ reason: result.reason, invarianceFailures: result.invarianceFailures ?? [] }, null, 1)}\n`);
      log(`calibrate: FAILED: ${result.reason}\n  report: ${options.out}.report.json; the deployment stays in forward mode.\n`);
    }
    return result;
  } finally {
    await probe.close();
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  // --help and unknown flags are answered before anything is probed.
  cliOrExit(process.argv.slice(2), { usage: CALIBRATE_USAGE, options: CALIBRATE_OPTIONS });
  let options: CalibrateCliOptions;
  try {
    options = parseCalibrateArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
  runCalibrate(options).then(
    (result) => process.exit(result.ok ? 0 : result.invarianceFailures ? 3 : 1),
    (error: unknown) => {
      process.stderr.write(`calibrate: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
