/**
 * `npm run calibrate -- --stage <stage> --api-key <key> --out <file>` (a deployment of this app), or
 * `npm run calibrate -- --endpoint <base URL> [--image-digest sha256:...] --out <file>` (any other endpoint)
 *
 * With `--stage`, the endpoint is the stage's ApiUrl and the image digest is read from the ECS
 * service's running tasks (cdk-outputs.json + the ECS API) before and after the run; a digest that
 * changes meanwhile fails the run. Table mode refuses a table that names no digest.
 *
 * Probes the compare endpoint of any backend that speaks the contract (the local gateway in
 * forward mode, a bare engine or container, a deployed stage), recovers its score function as
 * a score table, verifies it, and writes it. See docs/api.md and docs/score-table.md.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { ECSClient } from '@aws-sdk/client-ecs';
import { PATHS } from '../lambda/shared/contract.js';
import { IMAGE_DIGEST } from '../lambda/shared/score-table.js';
import { calibrate, type CalibrationResult } from './calibration/calibrate.js';
import { readStageOutputs, runningImageDigest } from './calibration/deployment.js';
import { cliOrExit } from './cli.js';
import { createCompareProbe } from './calibration/probe.js';

export interface CalibrateCliOptions {
  /** Base URL; with `stage` it defaults to the stage's ApiUrl output. */
  endpoint?: string;
  /** A deployment of this app: the digest is read from its ECS service. */
  stage?: string;
  /** `cdk deploy --outputs-file` result. @default cdk-outputs.json */
  outputs?: string;
  region?: string;
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

const USAGE = `usage: npm run calibrate -- (--stage <stage> | --endpoint <base URL>) [--api-key <key>] --out <table.json>
  --stage <stage>          a deployment of this app: endpoint = its ApiUrl, image digest read from its
                           ECS service's running tasks (needs cdk-outputs.json and AWS credentials)
  [--outputs <file>]       cdk deploy --outputs-file result (default cdk-outputs.json)
  [--region <region>]      region of the ECS service (default: the SDK's)
  [--dimension <n>]        embedding length (default: learned from one get-face-embeddings call)
  [--image <jpeg|png>]     image for that call (default: the face-api sample photo)
  [--backend <text>]       description stored in the table (default: the endpoint)
  [--image-digest <sha>]   for an endpoint that is not a deployment of this app: the image digest it runs
                           (a table without one is refused for table mode)
  [--random-pairs <n>]     verification pairs (default 1000, at least 1000 for a deployable table)
  [--concurrency <n>]      parallel requests (default 8)
  The API key may also come from FACE_API_KEY.`;

const CALIBRATE_OPTIONS = {
  endpoint: { type: 'string' },
  stage: { type: 'string' },
  outputs: { type: 'string' },
  region: { type: 'string' },
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
  if ((!values.endpoint && !values.stage) || !values.out) throw new Error(USAGE);
  if (values.stage && values['image-digest']) throw new Error('--image-digest is for endpoints that are not ours: with --stage the digest is read from the deployment');
  if (values['image-digest'] && !IMAGE_DIGEST.test(values['image-digest'])) throw new Error('--image-digest must be sha256:<64 hex digits>');
  const int = (name: string, raw: string | undefined, min: number) => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  return {
    ...(values.endpoint ? { endpoint: values.endpoint } : {}),
    ...(values.stage ? { stage: values.stage } : {}),
    ...(values.outputs ? { outputs: values.outputs } : {}),
    ...(values.region ? { region: values.region } : {}),
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

/** Collaborators, replaceable in tests. */
export interface CalibrateDeps {
  /** ECS client for `--stage`. @default a client for `--region` */
  readonly ecs?: ECSClient;
  readonly cwd?: string;
}

export async function runCalibrate(options: CalibrateCliOptions, log: (line: string) => void = (l) => process.stderr.write(l), deps: CalibrateDeps = {}): Promise<CalibrationResult> {
  // Where the endpoint is ours, the digest comes from the deployment, not from a flag.
  let deployment: { ecs: ECSClient; cluster: string; service: string } | undefined;
  let endpoint = options.endpoint;
  let imageDigest = options.imageDigest;
  if (options.stage) {
    const outputs = readStageOutputs(options.stage, options.outputs, deps.cwd);
    endpoint ??= outputs.apiUrl;
    if (!endpoint) throw new Error(`no ApiUrl output for stage ${options.stage}: pass --endpoint`);
    deployment = { ecs: deps.ecs ?? new ECSClient(options.region ? { region: options.region } : {}), cluster: outputs.cluster, service: outputs.service };
    const running = await runningImageDigest(deployment.ecs, deployment);
    imageDigest = running.digest;
    log(`calibrate: stage ${options.stage} runs ${imageDigest} (${running.tasks} task(s))\n`);
  } else if (!imageDigest) {
    log('calibrate: no --stage and no --image-digest: the table will name no image, and table mode refuses such a table\n');
  }
  if (!endpoint) throw new Error(USAGE);
  const image = options.image ?? new URL('../node_modules/@vladmandic/face-api/demo/sample1.jpg', import.meta.url).pathname;
  const dimension = options.dimension ?? (await learnDimension(endpoint, options.apiKey, image));
  log(`calibrate: ${endpoint}, embedding dimension ${dimension}\n`);
  const probe = createCompareProbe({ endpoint, apiKey: options.apiKey, concurrency: options.concurrency ?? 8 });
  const statePath = `${options.out}.state.json`;
  if (existsSync(statePath)) log(`calibrate: resuming from ${statePath}\n`);
  const started = performance.now();
  let lastPhase = '';
  let lastPrint = 0;
  try {
    let result = await calibrate({
      probe,
      dimension,
      backend: options.backend ?? endpoint,
      endpoint,
      imageDigest,
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
    if (deployment && result.ok) {
      // The image must not have changed under the measurement (a rollout during the run).
      const after = await runningImageDigest(deployment.ecs, deployment);
      if (after.digest !== imageDigest) {
        result = { ok: false, reason: `the service's image changed during calibration (${imageDigest} -> ${after.digest}): run it again`, table: { ...result.table, calibrated: false } };
      }
    }
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
