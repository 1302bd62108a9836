/**
 * `npx cdk synth` itself (the CLI, cdk.json's app command, bin/app.ts): offline,
 * with no AWS credentials, it synthesizes the default app and every example
 * configuration (`-c stage=<config/*.json>`) with real bundling and cdk-nag; a
 * bad configuration fails with a message naming the field.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_DIR } from '../../lib/config.js';

/** An environment with no way to reach AWS: no credentials, no profile, no IMDS, no CLI telemetry. */
function offlineEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_') && !key.startsWith('CDK_')));
  return {
    ...env,
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    // Let the app's in-memory validation report go to stderr like a developer's run.
    NODE_ENV: 'production',
  };
}

function cdkSynth(outdir: string, ...args: string[]) {
  return spawnSync('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', outdir, ...args], {
    cwd: PROJECT_DIR,
    env: offlineEnv(),
    encoding: 'utf8',
    timeout: 120_000,
  });
}

describe('npx cdk synth with no flags (offline, no credentials)', () => {
  let outdir: string;
  let result: ReturnType<typeof cdkSynth>;
  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'face-cdk-cli-'));
    result = cdkSynth(outdir);
  }, 150_000);
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('GIVEN cdk.json WHEN read THEN the app command runs bin/app.ts with tsx', () => {
    expect(JSON.parse(readFileSync(join(PROJECT_DIR, 'cdk.json'), 'utf8')).app).toBe('npx tsx bin/app.ts');
  });

  it('GIVEN no flags WHEN cdk synth runs THEN it succeeds with no validation finding', () => {
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/AwsSolutions-|Synthesis finished with errors/);
  });

  it('THEN the three stacks of stage dev are in the cloud assembly with their bundled functions', () => {
    for (const stack of ['Foundation', 'Service', 'Api']) expect(existsSync(join(outdir, `FaceVerification-dev-${stack}.template.json`)), stack).toBe(true);
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
    const missing = manifest.missing ?? [];
    // Nothing was looked up (a lookup would be listed here and need credentials).
    expect(missing).toEqual([]);
    const api = JSON.parse(readFileSync(join(outdir, 'FaceVerification-dev-Api.template.json'), 'utf8'));
    const proxy = Object.values(api.Resources as Record<string, any>).find((r) => r.Type === 'AWS::Lambda::Function' && /^POST detect-faces/.test(r.Properties.Description));
    const assetDir = join(outdir, `asset.${String(proxy.Properties.Code.S3Key).replace(/\.zip$/, '')}`);
    expect(existsSync(join(assetDir, 'index.mjs'))).toBe(true);
  });

  it('THEN the image mirror refresh token differs from the constant used in tests (it runs on every deploy)', () => {
    const service = JSON.parse(readFileSync(join(outdir, 'FaceVerification-dev-Service.template.json'), 'utf8'));
    const mirror = Object.values(service.Resources as Record<string, any>).find((r) => r.Type === 'Custom::VendorImageMirror');
    expect(mirror.Properties.RefreshToken).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });
});

describe('npx cdk synth -c stage=<name> for every example configuration in config/ (offline, no credentials)', () => {
  const stages = readdirSync(join(PROJECT_DIR, 'config')).filter((file) => file.endsWith('.json')).map((file) => file.replace(/\.json$/, ''));

  it('GIVEN config/ WHEN listed THEN the GPU, managed GPU and pull-through examples are there', () => {
    expect(stages).toEqual(expect.arrayContaining(['gpu', 'gpu-managed', 'pull-through']));
  });

  it.each(stages)('GIVEN -c stage=%s WHEN cdk synth runs THEN it succeeds with no validation finding, no lookup and the three stacks of that stage', (stage) => {
    const outdir = mkdtempSync(join(tmpdir(), `face-cdk-cli-${stage}-`));
    try {
      const result = cdkSynth(outdir, '-c', `stage=${stage}`);
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr).not.toMatch(/AwsSolutions-|Synthesis finished with errors/);
      for (const stack of ['Foundation', 'Service', 'Api']) expect(existsSync(join(outdir, `FaceVerification-${stage}-${stack}.template.json`)), stack).toBe(true);
      expect(JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')).missing ?? []).toEqual([]);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 150_000);
});

describe('npx cdk synth with a bad configuration', () => {
  it('GIVEN -c stage=<invalid> WHEN cdk synth runs THEN it fails with a message naming the field', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'face-cdk-cli-bad-'));
    try {
      const result = cdkSynth(outdir, '-c', 'stage=Not_Valid');
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/Invalid configuration[\s\S]*stage: must be 1-20 lower-case letters/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 60_000);

  it('GIVEN -c stage=nosuch (no config/nosuch.json) WHEN cdk synth runs THEN it fails listing the known stages', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'face-cdk-cli-nosuch-'));
    try {
      const result = cdkSynth(outdir, '-c', 'stage=nosuch');
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/stage: "nosuch" has no config\/nosuch\.json; known stages: dev, gpu, /);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 60_000);
});
