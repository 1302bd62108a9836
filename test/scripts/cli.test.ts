/**
 * Every npm script answers --help with its usage (exit 0) and an unknown flag or
 * name with a message (exit 2), before doing any work: the scripts run for real
 * (node + tsx, as `npm run` does), nothing is mocked.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_DIR } from '../../lib/config.js';
import { parseCli } from '../../scripts/cli.js';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs a TypeScript entry the way `npm run` does (tsx), with no network and no AWS. */
function runScript(script: string, args: readonly string[]): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: PROJECT_DIR,
      // An unreachable port: should a script start work anyway, it fails fast and visibly.
      env: { ...process.env, PORT: '1', AWS_REGION: 'eu-west-1', AWS_EC2_METADATA_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

const SCRIPTS: ReadonlyArray<{ npm: string; script: string; usage: RegExp }> = [
  { npm: 'start', script: 'local/server.ts', usage: /usage: \[VAR=value \.\.\.\] npm start[\s\S]*API_KEYS[\s\S]*BACKEND_URL/ },
  { npm: 'smoke', script: 'scripts/smoke.ts', usage: /usage: npm run smoke -- --url <base URL>[\s\S]*SMOKE_API_KEY/ },
  { npm: 'calibrate', script: 'scripts/calibrate.ts', usage: /usage: npm run calibrate -- \(--stage <stage> \| --endpoint <base URL>\)[\s\S]*--out/ },
  { npm: 'bench', script: 'scripts/bench/index.ts', usage: /usage: npm run bench -- \[--write\] \[name \.\.\.\][\s\S]*compare, compare-batch, gateway, verify, engine, calibrate, compare-check, mirror, cdk, engine-load/ },
  { npm: 'compare-mode', script: 'scripts/compare-mode.ts', usage: /usage: npm run compare-mode -- --stage <stage>[\s\S]*--forward/ },
  { npm: 'bench:load', script: 'scripts/bench/load.ts', usage: /usage: npm run bench:load[\s\S]*LOAD_SECONDS/ },
  { npm: 'sync-image', script: 'scripts/sync-image.ts', usage: /usage: npm run sync-image -- --stage <name>[\s\S]*--function-name/ },
  { npm: 'docs:config', script: 'scripts/config-doc.ts', usage: /usage: npm run docs:config[\s\S]*docs\/configuration\.md/ },
  { npm: 'cli', script: 'client/cli.ts', usage: /usage: npm run -s cli -- <command>[\s\S]*verify[\s\S]*FACE_VERIFICATION_API_KEY[\s\S]*exit codes/ },
  { npm: 'client:types', script: 'scripts/client-types.ts', usage: /usage: npm run client:types[\s\S]*client\/types\.ts/ },
  { npm: 'engine:scores', script: 'scripts/engine-scores.ts', usage: /usage: npm run engine:scores -- \[--model faceres\|face-api\][\s\S]*impostor/ },
];

describe('npm scripts: --help and unknown flags', () => {
  it('GIVEN package.json WHEN listing the scripts that run TypeScript THEN each one is covered here', async () => {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as { scripts: Record<string, string> };
    const tsScripts = Object.entries(pkg.scripts).filter(([, command]) => command.startsWith('tsx ')).map(([name]) => name).sort();
    expect(tsScripts).toEqual(SCRIPTS.map((s) => s.npm).sort());
  });

  it.each(SCRIPTS)('GIVEN npm run $npm -- --help WHEN run THEN it prints its usage on stdout and exits 0 without starting', async ({ script, usage }) => {
    const run = await runScript(script, ['--help']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(usage);
    expect(run.code).toBe(0);
    // Nothing started: no server line, no benchmark progress, no AWS call.
    expect(run.stdout).not.toMatch(/listening on|bench: |smoke test of|calibrate: /);
  }, 40_000);

  it.each(SCRIPTS)('GIVEN npm run $npm -- --nope WHEN run THEN it names the flag, prints the usage and exits 2', async ({ script, usage }) => {
    const run = await runScript(script, ['--nope']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Unknown option '--nope'/);
    expect(run.stderr).toMatch(usage);
    expect(run.stdout).toBe('');
  }, 40_000);

  it('GIVEN npm run bench -- nosuch WHEN run THEN the unknown name is refused with the known names before any benchmark runs', async () => {
    const before = statSync(join(PROJECT_DIR, 'docs', 'benchmarks.md')).mtimeMs;
    const run = await runScript('scripts/bench/index.ts', ['compare', 'nosuch']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unknown name "nosuch"; known: compare, compare-batch, gateway, verify, engine, calibrate, compare-check, mirror, cdk, engine-load/);
    expect(run.stderr).not.toMatch(/bench: compare/);
    expect(statSync(join(PROJECT_DIR, 'docs', 'benchmarks.md')).mtimeMs).toBe(before);
  }, 40_000);

  it('GIVEN npm run bench -- --write compare WHEN run THEN it is refused (a subset would drop the other sections)', async () => {
    const run = await runScript('scripts/bench/index.ts', ['--write', 'compare']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--write rewrites the whole of docs\/benchmarks\.md: run it without names/);
  }, 40_000);

  it('GIVEN npm start with a stray argument WHEN run THEN it refuses it instead of starting', async () => {
    const run = await runScript('local/server.ts', ['8081']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Unexpected argument '8081'/);
    expect(run.stderr).not.toMatch(/listening on/);
  }, 40_000);
});

describe('parseCli', () => {
  const spec = { usage: 'usage: x', options: { out: { type: 'string' as const } }, names: ['a', 'b'] };

  it('GIVEN flags and known names WHEN parsed THEN they are returned', () => {
    expect(parseCli(['--out', 'f', 'b'], spec)).toEqual({ kind: 'run', values: { out: 'f' }, positionals: ['b'] });
  });

  it('GIVEN -h among other arguments WHEN parsed THEN help wins (exit 0, usage on stdout)', () => {
    expect(parseCli(['a', '-h'], spec)).toEqual({ kind: 'exit', code: 0, stdout: 'usage: x\n', stderr: '' });
  });

  it('GIVEN a flag missing its value WHEN parsed THEN exit 2 naming the flag', () => {
    const result = parseCli(['--out'], spec);
    expect(result).toMatchObject({ kind: 'exit', code: 2 });
    expect(result.kind === 'exit' && result.stderr).toMatch(/--out/);
  });

  it('GIVEN anyPositionals (file paths) WHEN parsed THEN any positional is returned and flags are still checked', () => {
    const files = { usage: 'usage: z', options: { url: { type: 'string' as const } }, anyPositionals: true };
    expect(parseCli(['a.jpg', '--url', 'u', 'b.jpg'], files)).toEqual({ kind: 'run', values: { url: 'u' }, positionals: ['a.jpg', 'b.jpg'] });
    expect(parseCli(['a.jpg', '--nope'], files)).toMatchObject({ kind: 'exit', code: 2 });
  });

  it('GIVEN names when the script takes none WHEN parsed THEN exit 2', () => {
    expect(parseCli(['x'], { usage: 'usage: y' })).toMatchObject({ kind: 'exit', code: 2 });
  });
});
