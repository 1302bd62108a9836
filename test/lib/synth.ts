/**
 * Test helper: builds the app exactly as bin/app.ts does (cdk.json context,
 * buildApp) from a configuration object, synthesizes it once, and hands out
 * templates. Bundling is skipped unless asked for (the `aws:cdk:bundling-stacks`
 * context CDK itself uses for `cdk synth --exclusively`): esbuild is the slow part.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { buildApp, type FaceVerificationStacks } from '../../lib/app.js';
import { PROJECT_DIR, parseConfig, type AppConfig, type AppConfigInput } from '../../lib/config.js';

/** The context cdk.json gives `cdk synth` (feature flags and the base configuration). */
export function cdkJsonContext(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(PROJECT_DIR, 'cdk.json'), 'utf8')).context;
}

export interface SynthOptions {
  /** Run esbuild for real. @default false */
  readonly bundle?: boolean;
  /** Register cdk-nag (synth throws on an unacknowledged finding). @default false */
  readonly nag?: boolean;
}

export interface Synthesized {
  readonly app: App;
  readonly config: AppConfig;
  readonly stacks: FaceVerificationStacks;
  readonly assembly: CloudAssembly;
  readonly outdir: string;
  /** The template of one stack. */
  template(stack: keyof FaceVerificationStacks): Template;
  /** The raw JSON template of one stack. */
  json(stack: keyof FaceVerificationStacks): Record<string, any>;
  /** Removes the output directory. */
  cleanup(): void;
}

/**
 * Runs `fn` without CDK's "Bundling asset <path>..." line: AssetStaging writes it to stderr
 * unconditionally (aws-cdk-lib core/lib/asset-staging.js), which would fill `npm test` output.
 * Everything else written to stderr passes through.
 */
function withoutBundlingBanner<T>(fn: () => T): T {
  const write = process.stderr.write;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) =>
    typeof chunk === 'string' && chunk.startsWith('Bundling asset ') ? true : (write as (...args: unknown[]) => boolean).call(process.stderr, chunk, ...rest)) as typeof process.stderr.write;
  try {
    return fn();
  } finally {
    process.stderr.write = write;
  }
}

/** Parses `input`, builds and synthesizes the app once. */
export function synth(input: AppConfigInput = {}, options: SynthOptions = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'face-cdk-'));
  const context = { ...cdkJsonContext(), ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) };
  const app = new App({ outdir, context });
  const config = parseConfig(input);
  const { stacks, assembly } = withoutBundlingBanner(() => {
    const built = buildApp(app, config, { nag: options.nag ?? false, imageRefreshToken: 'test-token' });
    return { stacks: built, assembly: app.synth() };
  });
  const json = (stack: keyof FaceVerificationStacks) => assembly.getStackByName(stacks[stack].stackName).template as Record<string, any>;
  return {
    app,
    config,
    stacks,
    assembly,
    outdir,
    json,
    template: (stack) => Template.fromJSON(json(stack)),
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

/** Resources of one type in a raw template, as [logicalId, resource] pairs. */
export function resourcesOfType(template: Record<string, any>, type: string): Array<[string, any]> {
  return Object.entries(template.Resources as Record<string, any>).filter(([, r]) => r.Type === type);
}

/** Replaces asset hashes (64 hex) and the S3 asset bucket so snapshots survive code changes. */
export function normaliseTemplate(template: Record<string, any>): Record<string, any> {
  const text = JSON.stringify(template)
    .replace(/[a-f0-9]{64}(\.zip|\.json)?/g, 'ASSET_HASH$1')
    .replace(/"cdk-hnb659fds-assets-[^"]*"/g, '"ASSET_BUCKET"');
  return JSON.parse(text);
}
