/**
 * Issue 15: every Lambda function runs on nodejs24.x on arm64, the bundles
 * target node24, and cdk-nag's "latest runtime" rule (AwsSolutions-L1) holds
 * without an acknowledgement.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDLER_BUNDLE_TARGET, HANDLER_RUNTIME } from '../../lib/constructs/handler-function.js';
import { resourcesOfType, synth, type Synthesized } from './synth.js';

const STACKS = ['foundation', 'service', 'api'] as const;

describe('Lambda runtime (issue 15)', () => {
  let app: Synthesized;
  beforeAll(() => {
    // nag: true makes synth throw on any unacknowledged cdk-nag finding, AwsSolutions-L1 included.
    app = synth({}, { nag: true });
  }, 120_000);
  afterAll(() => app.cleanup());

  it('GIVEN the default configuration WHEN synthesized with cdk-nag THEN every function of ours is nodejs24.x on arm64', () => {
    expect(HANDLER_RUNTIME.name).toBe('nodejs24.x');
    const ours = STACKS.flatMap((stack) =>
      resourcesOfType(app.json(stack), 'AWS::Lambda::Function').filter(([, fn]) => fn.Properties.Handler === 'index.handler'),
    );
    // 5 API functions (authorizer, proxy, fetch-image, compare, docs) and the 2 image-mirror functions.
    expect(ours).toHaveLength(7);
    for (const [id, fn] of ours) {
      expect({ id, runtime: fn.Properties.Runtime, architectures: fn.Properties.Architectures }).toEqual({ id, runtime: 'nodejs24.x', architectures: ['arm64'] });
    }
  });

  it("THEN no function in any stack (aws-cdk-lib's provider functions included) runs an older Node.js", () => {
    const all = STACKS.flatMap((stack) => resourcesOfType(app.json(stack), 'AWS::Lambda::Function'));
    expect(all.length).toBeGreaterThanOrEqual(7);
    for (const [id, fn] of all) {
      const runtime = String(fn.Properties.Runtime);
      const major = Number(/^nodejs(\d+)\.x$/.exec(runtime)?.[1]);
      expect({ id, runtime, ok: major >= 24 }).toEqual({ id, runtime, ok: true });
    }
  });

  it('THEN the esbuild target is the runtime Node major', () => {
    expect(HANDLER_BUNDLE_TARGET).toBe(`node${/^nodejs(\d+)\.x$/.exec(HANDLER_RUNTIME.name)![1]}`);
  });
});
