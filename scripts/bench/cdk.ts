/**
 * CDK benchmark: `cdk synth` time of the default app (the CLI, offline, real
 * bundling, cdk-nag), each handler's bundle size (minified ESM, gzip, source
 * map), and each bundle's module init time (a fresh `node` importing the
 * bundle with the environment its template sets; the AWS SDK resolved from
 * node_modules as the Lambda runtime provides it), with and without
 * `--enable-source-maps`. Targets (issue): synth < 30 s, bundle < 250 KB, init < 50 ms.
 *
 * Run: npx tsx scripts/bench/cdk.ts   (BENCH_CDK_RUNS synth runs, default 3; BENCH_INIT_RUNS, default 5)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { PROJECT_DIR } from '../../lib/config.js';
import { fmt, isMain, median, table } from './stats.js';

const TARGET_SYNTH_S = 30;
const TARGET_BUNDLE_KB = 250;
const TARGET_INIT_MS = 50;

/** Placeholders for environment values that are CloudFormation tokens in the template. */
const TOKEN_PLACEHOLDERS: Record<string, string> = {
  BACKEND_URL: 'http://127.0.0.1:9',
  FETCH_IMAGE_FUNCTION_NAME: 'fetch-image',
  JWT_USAGE_KEY_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:usage-AbCdEf',
  VENDOR_CREDENTIALS_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vendor-AbCdEf',
  TARGET_REPOSITORY_NAME: 'face-mirror',
  ECS_CLUSTER: 'cluster',
  ECS_SERVICE: 'service',
};

function offlineEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_') && !key.startsWith('CDK_')));
  return { ...env, AWS_EC2_METADATA_DISABLED: 'true', CDK_DISABLE_CLI_TELEMETRY: 'true', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' };
}

/** Runs `npx cdk synth` into `outdir`; returns seconds. */
function timeSynth(outdir: string): number {
  rmSync(outdir, { recursive: true, force: true });
  const started = performance.now();
  const result = spawnSync('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', outdir], { cwd: PROJECT_DIR, env: offlineEnv(), encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`cdk synth failed (${result.status}): ${result.stderr.slice(-2000)}`);
  return seconds;
}

interface Bundle {
  readonly name: string;
  readonly dir: string;
  readonly environment: Record<string, string>;
}

/** The handler bundles in a cloud assembly (nodejs24.x `index.handler` functions), one per distinct asset. */
function bundlesIn(outdir: string): Bundle[] {
  const seen = new Set<string>();
  const bundles: Bundle[] = [];
  for (const file of readdirSync(outdir).filter((f) => f.endsWith('.template.json'))) {
    const template = JSON.parse(readFileSync(join(outdir, file), 'utf8'));
    for (const resource of Object.values(template.Resources as Record<string, any>)) {
      const props = resource.Properties;
      if (resource.Type !== 'AWS::Lambda::Function' || props.Runtime !== 'nodejs24.x' || props.Handler !== 'index.handler') continue;
      const dir = join(outdir, `asset.${String(props.Code.S3Key).replace(/\.zip$/, '')}`);
      const variables = (props.Environment?.Variables ?? {}) as Record<string, unknown>;
      const name = String(variables.POWERTOOLS_SERVICE_NAME ?? props.Description).replace(/^face-/, '');
      if (seen.has(dir)) continue;
      seen.add(dir);
      const environment = Object.fromEntries(
        Object.entries(variables).map(([key, value]) => [key, typeof value === 'string' ? value : (TOKEN_PLACEHOLDERS[key] ?? 'placeholder')]),
      );
      bundles.push({ name, dir, environment });
    }
  }
  return bundles.sort((a, b) => a.name.localeCompare(b.name));
}

function dirSize(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, entry) => {
    const path = join(dir, entry.name);
    return sum + (entry.isDirectory() ? dirSize(path) : statSync(path).size);
  }, 0);
}

/** Median ms to import the bundle in a fresh node process (module init = cold start minus the runtime's own start). */
function initMs(bundle: Bundle, runs: number, sourceMaps: boolean): number {
  const url = pathToFileURL(join(bundle.dir, 'index.mjs')).href;
  const script = `const t = performance.now(); await import(${JSON.stringify(url)}); process.stdout.write(String(performance.now() - t));`;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const env = { ...offlineEnv(), ...bundle.environment, AWS_REGION: 'eu-west-1', AWS_LAMBDA_FUNCTION_NAME: bundle.name, NODE_OPTIONS: sourceMaps ? '--enable-source-maps' : '' };
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: bundle.dir, env, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`importing the ${bundle.name} bundle failed: ${result.stderr.slice(-1000)}`);
    times.push(Number(result.stdout));
  }
  return median(times);
}

/** Runs the benchmark; returns a markdown section. */
export async function runCdkBench(): Promise<string> {
  const synthRuns = Number(process.env.BENCH_CDK_RUNS ?? 3);
  const initRuns = Number(process.env.BENCH_INIT_RUNS ?? 5);
  // Inside the project, so that a bundle's external `@aws-sdk/*` imports resolve from node_modules.
  const outdir = join(PROJECT_DIR, 'cdk.out', `bench-${process.pid}`);
  mkdirSync(join(PROJECT_DIR, 'cdk.out'), { recursive: true });
  try {
    const synthTimes = Array.from({ length: synthRuns }, () => timeSynth(outdir));
    const synthMedian = median(synthTimes);
    const rows = bundlesIn(outdir).map((bundle) => {
      const code = readFileSync(join(bundle.dir, 'index.mjs'));
      const kb = code.length / 1024;
      const mapKb = statSync(join(bundle.dir, 'index.mjs.map')).size / 1024;
      const extraKb = (dirSize(bundle.dir) - code.length) / 1024 - mapKb;
      const init = initMs(bundle, initRuns, false);
      const initWithMaps = initMs(bundle, initRuns, true);
      return [
        bundle.name,
        fmt(kb, 0),
        fmt(gzipSync(code).length / 1024, 0),
        fmt(mapKb, 0),
        fmt(extraKb, 0),
        fmt(init, 1),
        fmt(initWithMaps, 1),
        `${kb < TARGET_BUNDLE_KB ? 'yes' : 'NO'} / ${init < TARGET_INIT_MS ? 'yes' : 'NO'}`,
      ];
    });
    return [
      '## CDK: synth time, bundle sizes, module init',
      '',
      `\`npx cdk synth\` of the default app (no flags, offline, real esbuild bundling of every handler, cdk-nag): median ${fmt(synthMedian, 1)} s over ${synthRuns} runs (${synthTimes.map((t) => fmt(t, 1)).join(', ')} s); target < ${TARGET_SYNTH_S} s: ${synthMedian < TARGET_SYNTH_S ? 'met' : 'NOT met'}.`,
      '',
      `Bundles (minified ESM, AWS SDK external) and module init: median of ${initRuns} fresh \`node\` processes importing the bundle with the environment its template sets (Node ${process.version} here; Lambda runs Node 24 on arm64, so treat init as relative). "init + maps" runs with \`NODE_OPTIONS=--enable-source-maps\` as deployed.`,
      '',
      table(['function', 'bundle KB', 'gzip KB', 'map KB', 'other files KB', 'init ms', 'init + maps ms', `< ${TARGET_BUNDLE_KB} KB / < ${TARGET_INIT_MS} ms`], rows),
    ].join('\n');
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  runCdkBench().then(
    (section) => console.log(section),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
