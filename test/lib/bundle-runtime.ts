/**
 * Test helper: runs a synthesized handler bundle the way Lambda's nodejs24.x
 * runtime does, outside the project. The bundle is copied to a task directory
 * under the OS temp dir; the only packages it can import are what the runtime
 * provides in /var/runtime/node_modules: the AWS SDK v3 (`@aws-sdk/*`,
 * `@smithy/*` and their dependencies; "Building Lambda functions with
 * Node.js": the runtime includes the SDK). ESM `import` ignores NODE_PATH, so
 * the SDK sits in a `node_modules` directory above the task directory (ESM
 * resolution walks up from the importing file); NODE_PATH points there too,
 * for the bundles' `createRequire` calls.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, parse, sep } from 'node:path';

/** Where Node 24 came from, for the report. */
export interface Node24 {
  /** The binary to run bundles with. */
  readonly bin: string;
  /** What it reports (`v24.x.y`). */
  readonly version: string;
  /** How it was found. */
  readonly source: string;
  /** False when no Node 24 was found and the bundles run on this process's Node instead. */
  readonly isNode24: boolean;
}

const majorOf = (version: string) => Number(/^v(\d+)\./.exec(version)?.[1] ?? 0);

/** The path scripts/ci/node24.sh installs to (its defaults). */
export function node24CachePath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const arch = process.arch === 'x64' ? 'x64' : process.arch === 'arm64' ? 'arm64' : undefined;
  if (process.platform !== 'linux' || !arch) return undefined;
  const prefix = env.NODE24_PREFIX ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'face-verification', 'node24');
  return join(prefix, 'node_modules', `node-linux-${arch}`, 'bin', 'node');
}

/**
 * Finds Node 24: `NODE24_BIN` (set by .ci/run), this process when it already is
 * Node >= 24, or what `bash scripts/ci/node24.sh` installed. With none of them,
 * CI fails (it must measure Node 24) and a developer's run falls back to this
 * process's Node, saying so.
 * @throws Error when NODE24_BIN is set but is not Node >= 24, or in CI without Node 24.
 */
export function findNode24(env: NodeJS.ProcessEnv = process.env): Node24 {
  const versionOf = (bin: string) => execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim();
  if (env.NODE24_BIN) {
    const version = versionOf(env.NODE24_BIN);
    if (majorOf(version) < 24) throw new Error(`NODE24_BIN (${env.NODE24_BIN}) is ${version}, not Node 24 or later`);
    return { bin: env.NODE24_BIN, version, source: 'NODE24_BIN', isNode24: true };
  }
  if (majorOf(process.version) >= 24) return { bin: process.execPath, version: process.version, source: 'the Node running the tests', isNode24: true };
  const cached = node24CachePath(env);
  if (cached && existsSync(cached)) {
    const version = versionOf(cached);
    if (majorOf(version) >= 24) return { bin: cached, version, source: 'scripts/ci/node24.sh cache', isNode24: true };
  }
  if (env.CI === 'true') {
    throw new Error('No Node 24 for the bundle start-up test: run `export NODE24_BIN="$(bash scripts/ci/node24.sh)"` first (.ci/run does).');
  }
  return { bin: process.execPath, version: process.version, source: 'fallback: no Node 24 found (run `bash scripts/ci/node24.sh` once)', isNode24: false };
}

/** Every top-level package of `nodeModules` that `roots` need, roots included (dependencies + optionalDependencies). */
function dependencyClosure(nodeModules: string, roots: readonly string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string, from: string) => {
    // Nested copies (from/node_modules/name) travel with their parent; only hoisted ones are added.
    if (existsSync(join(from, 'node_modules', name, 'package.json'))) {
      const nested = join(from, 'node_modules', name);
      const pkg = JSON.parse(readFileSync(join(nested, 'package.json'), 'utf8'));
      for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) visit(dep, nested);
      return;
    }
    if (seen.has(name)) return;
    const dir = join(nodeModules, name);
    if (!existsSync(join(dir, 'package.json'))) return; // an optional dependency for another platform
    seen.add(name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) visit(dep, dir);
  };
  for (const root of roots) visit(root, nodeModules);
  return [...seen].sort();
}

/** The emulated runtime: `root/node_modules` holds the SDK; bundles go to `root/task-*`. */
export interface EmulatedRuntime {
  readonly root: string;
  readonly nodeModules: string;
  /** Packages copied in (the SDK and its dependencies). */
  readonly packages: readonly string[];
}

/**
 * Copies the project's `@aws-sdk/*` and `@smithy/*` packages and everything
 * they depend on (hard links: same file system, no symlinks for Node to
 * resolve back into the project) into `root/node_modules`.
 * @throws Error when `root` lies inside a directory that has a node_modules (the isolation would leak).
 */
export function emulateLambdaRuntime(projectNodeModules: string, root: string): EmulatedRuntime {
  for (let dir = dirname(root); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules'))) throw new Error(`${dir}/node_modules exists: bundles run under ${root} would see it`);
    if (dir === parse(dir).root) break;
  }
  const roots = ['@aws-sdk', '@smithy'].flatMap((scope) =>
    existsSync(join(projectNodeModules, scope)) ? readdirSync(join(projectNodeModules, scope)).map((name) => `${scope}/${name}`) : [],
  );
  const packages = dependencyClosure(projectNodeModules, roots);
  const nodeModules = join(root, 'node_modules');
  for (const name of packages) {
    const target = join(nodeModules, name);
    mkdirSync(dirname(target), { recursive: true });
    try {
      execFileSync('cp', ['-al', join(projectNodeModules, name), target]);
    } catch {
      cpSync(join(projectNodeModules, name), target, { recursive: true });
    }
  }
  return { root, nodeModules, packages };
}

/** One call of the handler inside the child process. */
export interface BundleCase {
  readonly name: string;
  readonly event: unknown;
}

/** What the child process reports. */
export interface BundleRun {
  /** The Node version that ran the bundle. */
  readonly node: string;
  /** Module init: from `import()` of index.mjs to its evaluation, in ms. */
  readonly initMs: number;
  /** CPU time (user + system) the import used, in ms: less sensitive than `initMs` to other processes on a shared machine. */
  readonly initCpuMs: number;
  /** Set when the import itself threw. */
  readonly initError?: { name: string; message: string; code?: string };
  readonly answers: ReadonlyArray<{ name: string; ok: true; value: any } | { name: string; ok: false; error: { name: string; message: string; code?: string } }>;
  /** What the function logged (Powertools JSON lines). */
  readonly stdout: string;
  readonly stderr: string;
}

const RUNNER = `import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [, , bundle, casesFile, outFile, timeoutMs] = process.argv;
const describe = (e) => ({ name: String(e?.name ?? typeof e), message: String(e?.message ?? e), ...(e?.code ? { code: String(e.code) } : {}) });
const started = performance.now();
const cpu = process.cpuUsage();
let mod, initError;
try { mod = await import(pathToFileURL(bundle).href); } catch (e) { initError = describe(e); }
const initMs = performance.now() - started;
const used = process.cpuUsage(cpu);
const initCpuMs = (used.user + used.system) / 1000;
const answers = [];
if (mod) {
  for (const c of JSON.parse(readFileSync(casesFile, 'utf8'))) {
    const ends = Date.now() + Number(timeoutMs);
    const context = { awsRequestId: c.name, functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, getRemainingTimeInMillis: () => ends - Date.now() };
    try { answers.push({ name: c.name, ok: true, value: await mod.handler(c.event, context) }); }
    catch (e) { answers.push({ name: c.name, ok: false, error: describe(e) }); }
  }
}
writeFileSync(outFile, JSON.stringify({ node: process.version, initMs, initCpuMs, initError, answers }));
process.exit(0);
`;

/** Options of {@link runBundle}. */
export interface RunBundleOptions {
  readonly node: string;
  readonly runtime: EmulatedRuntime;
  /** The bundle directory in cdk.out (index.mjs and its files). */
  readonly bundleDir: string;
  /** Task directory name under the runtime root. */
  readonly name: string;
  /** Environment variables of the function (template values, tokens resolved by the caller). */
  readonly environment: Record<string, string>;
  readonly cases: readonly BundleCase[];
  /** The function timeout the context reports. @default 10000 */
  readonly functionTimeoutMs?: number;
}

/** Copies the bundle into `runtime.root/<name>` (once) and runs it in a fresh child process. */
export async function runBundle(options: RunBundleOptions): Promise<BundleRun> {
  const { runtime } = options;
  const taskDir = join(runtime.root, options.name);
  if (!existsSync(taskDir)) cpSync(options.bundleDir, taskDir, { recursive: true });
  const runner = join(runtime.root, 'runner.mjs');
  if (!existsSync(runner)) writeFileSync(runner, RUNNER);
  const casesFile = join(runtime.root, `${options.name}.cases.json`);
  writeFileSync(casesFile, JSON.stringify(options.cases));
  const outFile = join(runtime.root, `${options.name}.out.json`);
  const functionTimeoutMs = options.functionTimeoutMs ?? 10_000;
  // Only what the runtime sets (Lambda "Defined runtime environment variables") plus the function's own.
  const env: Record<string, string> = {
    PATH: `${dirname(options.node)}${sep === '/' ? ':' : ';'}/usr/bin:/bin`,
    HOME: runtime.root,
    LANG: 'en_US.UTF-8',
    TZ: 'UTC',
    NODE_PATH: runtime.nodeModules,
    LAMBDA_TASK_ROOT: taskDir,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    AWS_LAMBDA_FUNCTION_NAME: `face-${options.name}`,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_REGION: 'eu-west-1',
    AWS_DEFAULT_REGION: 'eu-west-1',
    // Never ask the instance metadata service for credentials (no traffic leaves the machine).
    AWS_EC2_METADATA_DISABLED: 'true',
    ...options.environment,
  };
  const child = spawn(options.node, [runner, join(taskDir, 'index.mjs'), casesFile, outFile, String(functionTimeoutMs)], { cwd: taskDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const killer = setTimeout(() => child.kill('SIGKILL'), functionTimeoutMs + 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(killer);
  if (code !== 0 || !existsSync(outFile)) throw new Error(`bundle ${options.name} exited ${code}: ${stderr.slice(0, 2000)}`);
  const run = JSON.parse(readFileSync(outFile, 'utf8')) as Omit<BundleRun, 'stdout' | 'stderr'>;
  return { ...run, stdout, stderr };
}

/** A temp directory outside the project for an emulated runtime. */
export function runtimeRoot(prefix: string): string {
  const root = join(tmpdir(), `${prefix}-${process.pid}-${Date.now()}`);
  mkdirSync(root, { recursive: true });
  return root;
}
