/**
 * Issue 15: every Lambda function runs on nodejs24.x on arm64, the bundles
 * target node24, and cdk-nag's "latest runtime" rule (AwsSolutions-L1) holds
 * without an acknowledgement. Issue 9 finding 5: the proxy's request deadline
 * agrees with the template's integration timeout and function timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDLER_BUNDLE_TARGET, HANDLER_RUNTIME } from '../../lib/constructs/handler-function.js';
import { startRequestDeadline } from '../../lambda/shared/deadline.js';
import { LIMITS } from '../../lambda/shared/limits.js';
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
    // 6 API functions (authorizer, proxy, fetch-image, compare, verify-faces, docs) and the 2 image-mirror functions.
    expect(ours).toHaveLength(8);
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

  describe('request deadline vs. the template (issue 9, finding 5)', () => {
    const proxyOf = () => {
      const found = resourcesOfType(app.json('api'), 'AWS::Lambda::Function').find(([, fn]) => /^POST detect-faces/.test(fn.Properties.Description));
      expect(found).toBeDefined();
      return found![1].Properties;
    };

    it('THEN every Lambda proxy integration waits the integration timeout the deadline is derived from (29 s)', () => {
      // "Amazon API Gateway quotas": REST integration timeout 50 ms to 29 s by default.
      const integrations = resourcesOfType(app.json('api'), 'AWS::ApiGateway::Method')
        .map(([, method]) => method.Properties.Integration)
        .filter((integration) => integration?.Type === 'AWS_PROXY');
      expect(integrations.length).toBeGreaterThanOrEqual(3);
      for (const integration of integrations) expect(integration.TimeoutInMillis).toBe(LIMITS.apiGatewayIntegrationTimeoutMs);
    });

    it("THEN the proxy's function timeout outlasts the integration, so the budget ends (and our 504 is sent) before either", () => {
      const proxy = proxyOf();
      const functionTimeoutMs = proxy.Timeout * 1000;
      // Lambda's own timeout must not cut the request before API Gateway would: it would answer a 502 with no body.
      expect(functionTimeoutMs).toBeGreaterThanOrEqual(LIMITS.apiGatewayIntegrationTimeoutMs);
      // The budget a fresh invocation gets (context = the function timeout) ends a margin before both limits.
      const deadline = startRequestDeadline({ context: { getRemainingTimeInMillis: () => functionTimeoutMs } });
      deadline.dispose();
      expect(deadline.budgetMs).toBe(28_000);
      expect(deadline.budgetMs).toBeLessThan(Math.min(functionTimeoutMs, LIMITS.apiGatewayIntegrationTimeoutMs));
      // The backend's own cap fits inside the budget (it is the cap for image.bytes requests).
      expect(Number(proxy.Environment.Variables.BACKEND_TIMEOUT_MS)).toBeLessThanOrEqual(deadline.budgetMs);
    });
  });
});
