/**
 * `npm run bench`: runs every benchmark side by side with its reference and writes
 * docs/benchmarks.md (machine description + one section per benchmark).
 * `npm run bench -- compare gateway` runs only the named ones.
 */
import { writeFileSync } from 'node:fs';
import { machine } from './stats.js';

const BENCHES: Record<string, () => Promise<string>> = {
  compare: async () => (await import('./compare.js')).runCompareBench(),
  gateway: async () => (await import('./gateway.js')).runGatewayBench(),
  engine: async () => (await import('./engine.js')).runEngineBench(),
  calibrate: async () => (await import('./calibrate.js')).runCalibrateBench(),
  'compare-check': async () => (await import('./compare-check.js')).runCompareCheckBench(),
  mirror: async () => (await import('./mirror.js')).runMirrorBench(),
  cdk: async () => (await import('./cdk.js')).runCdkBench(),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
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
  if (wanted.length === 0) {
    const doc = [
      '# Benchmarks',
      '',
      'Written by `npm run bench` (each benchmark measures its target and its reference side by side in one run, since this machine is noisy).',
      '',
      `Machine: ${machine()}. Run: ${new Date().toISOString()}.`,
      '',
      ...sections.flatMap((section) => [section, '']),
    ].join('\n');
    writeFileSync(new URL('../../docs/benchmarks.md', import.meta.url), doc);
    process.stderr.write('bench: wrote docs/benchmarks.md\n');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
