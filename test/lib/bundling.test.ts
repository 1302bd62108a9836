/**
 * Real bundling (esbuild, locally, no docker) of every handler, as `cdk synth`
 * does it: ESM with the createRequire banner, minified, source maps without
 * sources, the AWS SDK left to the runtime, and the files the docs and compare
 * functions read copied into their bundles.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SWAGGER_UI_ASSETS } from '../../lambda/shared/docs.js';
import { writeCalibratedTable } from './calibrated-table.js';
import { resourcesOfType, synth, type Synthesized } from './synth.js';

interface BundledFunction {
  readonly description: string;
  readonly dir: string;
}

describe('handler bundles (real esbuild)', () => {
  let app: Synthesized;
  let tableFile: string;
  let bundles: BundledFunction[];
  beforeAll(() => {
    tableFile = writeCalibratedTable();
    app = synth({ compare: { mode: 'table', scoreTableFile: tableFile } }, { bundle: true });
    bundles = (['service', 'api'] as const).flatMap((stack) =>
      resourcesOfType(app.json(stack), 'AWS::Lambda::Function')
        .filter(([, fn]) => fn.Properties.Handler === 'index.handler' && fn.Properties.Runtime === 'nodejs22.x')
        .map(([, fn]) => ({
          description: fn.Properties.Description as string,
          dir: join(app.outdir, `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`),
        })),
    );
  }, 120_000);
  afterAll(() => app.cleanup());

  const bundleOf = (pattern: RegExp) => {
    const found = bundles.find((b) => pattern.test(b.description));
    expect(found, String(pattern)).toBeDefined();
    return found!;
  };

  it('GIVEN cdk synth WHEN bundling THEN every handler (5 API functions, the compare check, 2 mirror functions) is an ESM bundle with a source map', () => {
    expect(bundles).toHaveLength(8);
    for (const bundle of bundles) {
      const code = readFileSync(join(bundle.dir, 'index.mjs'), 'utf8');
      expect(code.startsWith("import { createRequire } from 'module'; const require = createRequire(import.meta.url);"), bundle.description).toBe(true);
      expect(code, bundle.description).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
      // Minified: long lines (newlines left are inside template literals), no indented source lines.
      const lines = code.split('\n');
      expect(code.length / lines.length, bundle.description).toBeGreaterThan(1000);
      expect(lines.filter((line) => /^ {4}\S/.test(line)).length, bundle.description).toBeLessThan(lines.length / 4);
      const map = JSON.parse(readFileSync(join(bundle.dir, 'index.mjs.map'), 'utf8'));
      expect(map.sourcesContent, bundle.description).toBeUndefined();
    }
  });

  it('THEN the AWS SDK is imported from the runtime, not bundled', () => {
    const proxy = readFileSync(join(bundleOf(/^POST detect-faces/).dir, 'index.mjs'), 'utf8');
    // Imported on first use (only image.url requests need it), from the runtime's SDK.
    expect(proxy).toMatch(/import\(\s*"@aws-sdk\/client-lambda"\s*\)/);
    expect(proxy.length).toBeLessThan(250 * 1024);
    const mirror = readFileSync(join(bundleOf(/custom resource/).dir, 'index.mjs'), 'utf8');
    expect(mirror).toMatch(/from\s*"@aws-sdk\/client-ecr"/);
  });

  it('THEN the docs bundle carries the swagger-ui-dist files it serves', () => {
    const dir = join(bundleOf(/^GET \/swagger/).dir, 'swagger-ui');
    for (const file of SWAGGER_UI_ASSETS) {
      expect(existsSync(join(dir, file)), file).toBe(true);
      expect(statSync(join(dir, file)).size).toBeGreaterThan(1000);
    }
  });

  it('THEN the compare bundle carries the configured score table as score-table.json', () => {
    const copied = readFileSync(join(bundleOf(/^POST compare-face-embeddings/).dir, 'score-table.json'), 'utf8');
    expect(copied).toBe(readFileSync(tableFile, 'utf8'));
  });

  it('THEN the compare check carries the very same table, and compare imports Secrets Manager only on first use', () => {
    const checked = readFileSync(join(bundleOf(/^Checks the compare score table/).dir, 'score-table.json'), 'utf8');
    expect(checked).toBe(readFileSync(tableFile, 'utf8'));
    const compare = readFileSync(join(bundleOf(/^POST compare-face-embeddings/).dir, 'index.mjs'), 'utf8');
    expect(compare).toMatch(/import\(\s*"@aws-sdk\/client-secrets-manager"\s*\)/);
    expect(compare).not.toMatch(/from\s*"@aws-sdk\/client-secrets-manager"/);
  });
});
