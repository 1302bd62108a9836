/**
 * `npm run bench`: runs every benchmark side by side with its reference and prints
 * the results as Markdown; `--write` also rewrites the tracked docs/benchmarks.md
 * (machine description + one section per benchmark; only with the full suite).
 * `npm run bench -- compare gateway` runs only the named ones.
 */
import { writeFileSync } from 'node:fs';
import { cliOrExit } from '../cli.js';
import { machine } from './stats.js';

const BENCHES: Record<string, () => Promise<string>> = {
  compare: async () => (await import('./compare.js')).runCompareBench(),
  'compare-batch': async () => (await import('./compare-batch.js')).runCompareBatchBench(),
  gateway: async () => (await import('./gateway.js')).runGatewayBench(),
  verify: async () => (await import('./verify.js')).runVerifyBench(),
  engine: async () => (await import('./engine.js')).runEngineBench(),
  calibrate: async () => (await import('./calibrate.js')).runCalibrateBench(),
  'compare-check': async () => (await import('./compare-check.js')).runCompareCheckBench(),
  mirror: async () => (await import('./mirror.js')).runMirrorBench(),
  cdk: async () => (await import('./cdk.js')).runCdkBench(),
  'engine-load': async () => (await import('./engine-load.js')).runEngineLoadBench(),
};

/** `npm run bench -- --help`. */
export const BENCH_USAGE = `usage: npm run bench -- [--write] [name ...]

Runs the benchmarks (each beside its reference, in one run) and prints Markdown to stdout.
Names: ${Object.keys(BENCHES).join(', ')} (default: all; "mirror" copies a 1 GiB layer, "cdk" synthesizes the app,
"engine-load" drives the embedded engine with 1 and 2 workers for about 80 s).

  --write      also rewrite docs/benchmarks.md (only with the full suite, no names)
  -h, --help   this text

See also: npm run bench:load -- --help (the gateway under load; not part of this suite).`;

async function main(): Promise<void> {
  // --help, unknown flags and unknown names are answered before any benchmark starts.
  const { values, positionals: wanted } = cliOrExit(process.argv.slice(2), { usage: BENCH_USAGE, options: { write: { type: 'boolean', default: false } }, names: Object.keys(BENCHES) });
  if (values.write && wanted.length > 0) {
    process.stderr.write(`--write rewrites the whole of docs/benchmarks.md: run it without names\n${BENCH_USAGE}\n`);
    process.exit(2);
  }
  const names = wanted.length > 0 ? wanted : Object.keys(BENCHES);
  const sections: string[] = [];
  for (const name of names) {
    const run = BENCHES[name];
    if (!run) throw new Error(`unknown benchmark "${name}"; known: ${Object.keys(BENCHES).join(', ')}`);
    process.stderr.write(`bench: ${name}...\n`);
    const started = performance.now();
    const section = await run();
    process.stderr.write(`bench: ${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    sections.push(section);
    console.log(`${section}\n`);
  }
  if (values.write) {
    const doc = [
      '# Benchmarks',
      '',
      'Written by `npm run bench -- --write` (each benchmark measures its target and its reference side by side in one run, since this machine is noisy).',
      '',
      `Machine: ${machine()}. Run: ${new Date().toISOString()}.`,
      '',
      ...sections.flatMap((section) => [section, '']),
    ].join('\n');
    writeFileSync(new URL('../../docs/benchmarks.md', import.meta.url), doc);
    process.stderr.write('bench: wrote docs/benchmarks.md\n');
  } else if (wanted.length === 0) {
    process.stderr.write('bench: docs/benchmarks.md left as it was (add --write to update it)\n');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
