/**
 * Issue 9, findings 6 and 11.
 * 6: a body of 6-10 MB gets our 413 problem body from the WAF (Content-Length
 *    rule), before API Gateway invokes a function whose event it would not fit.
 * 11: throttles that agree: no usage plan above the stage cap, no per-IP WAF
 *    limit below one client's plan rate for the WAF's 5-minute window.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../lambda/shared/limits.js';
import { PROBLEM_KINDS } from '../../lambda/shared/problem.js';
import { ConfigError, minimumWafRateLimit, parseConfig, wafRateLimitPer5Minutes, type AppConfigInput } from '../../lib/config.js';
import { BODY_TOO_LARGE_RULE, integerGreaterThanRegex } from '../../lib/constructs/api.js';
import { resourcesOfType, synth, type Synthesized } from './synth.js';

function configProblems(input: AppConfigInput): string[] {
  try {
    parseConfig(input);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}

describe('integerGreaterThanRegex (the WAF Content-Length match)', () => {
  it('GIVEN any limit and any number (with or without leading zeros) THEN it matches exactly the numbers above the limit', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), fc.nat({ max: 2 ** 40 }), fc.nat({ max: 3 }), (limit, value, zeros) => {
        const regex = new RegExp(integerGreaterThanRegex(limit));
        expect(regex.test('0'.repeat(zeros) + String(value))).toBe(value > limit);
      }),
      { numRuns: 3000 },
    );
  });

  it('GIVEN the body limit THEN the boundary values, non-numbers and the WAF regex length limit hold', () => {
    const source = integerGreaterThanRegex(LIMITS.maxRequestBodyBytes);
    const regex = new RegExp(source);
    expect(LIMITS.maxRequestBodyBytes).toBe(6_225_920);
    for (const [value, over] of [
      [String(LIMITS.maxRequestBodyBytes), false],
      [String(LIMITS.maxRequestBodyBytes + 1), true],
      ['6291456', true],
      ['10485760', true],
      ['999999', false],
      ['0', false],
      ['', false],
      ['6225921x', false],
      ['-7000000', false],
      [' 7000000', false],
    ] as const) {
      expect(regex.test(value), value).toBe(over);
    }
    // AWS WAF RegexMatchStatement: RegexString is at most 512 characters.
    expect(source.length).toBeLessThanOrEqual(512);
  });
});

describe('the default API web ACL', () => {
  let app: Synthesized;
  let acl: any;
  beforeAll(() => {
    app = synth({});
    const acls = resourcesOfType(app.json('api'), 'AWS::WAFv2::WebACL');
    expect(acls).toHaveLength(1);
    acl = acls[0]![1].Properties;
  });
  afterAll(() => app.cleanup());

  it('GIVEN a Content-Length above the Lambda-safe body limit WHEN the web ACL sees it THEN the first rule blocks with 413 and our problem body', () => {
    const rule = acl.Rules.find((r: any) => r.Name === BODY_TOO_LARGE_RULE);
    expect(rule.Priority).toBe(Math.min(...acl.Rules.map((r: any) => r.Priority)));
    expect(rule.Action).toEqual({ Block: { CustomResponse: { ResponseCode: 413, CustomResponseBodyKey: 'payload-too-large' } } });
    expect(rule.Statement.RegexMatchStatement).toEqual({
      FieldToMatch: { SingleHeader: { Name: 'content-length' } },
      RegexString: integerGreaterThanRegex(LIMITS.maxRequestBodyBytes),
      TextTransformations: [{ Priority: 0, Type: 'NONE' }],
    });
    const regex = new RegExp(rule.Statement.RegexMatchStatement.RegexString);
    // 6-10 MB bodies (API Gateway's REST limit is 10 MB) are all refused here; a 4 MiB image as base64 passes.
    for (const size of [6 * 1024 * 1024, 7_000_000, 10 * 1024 * 1024]) expect(regex.test(String(size))).toBe(true);
    expect(regex.test(String(Math.ceil((4 * 1024 * 1024) / 3) * 4 + 200))).toBe(false);
    expect(rule.VisibilityConfig).toMatchObject({ CloudWatchMetricsEnabled: true, SampledRequestsEnabled: false });
  });

  it('THEN the 413 body is the same problem document the handlers answer (type, title, status, detail)', () => {
    const body = acl.CustomResponseBodies['payload-too-large'];
    expect(body.ContentType).toBe('APPLICATION_JSON');
    const parsed = JSON.parse(body.Content);
    expect(parsed).toMatchObject({
      type: 'urn:face-verification:problem:payload-too-large',
      title: PROBLEM_KINDS['payload-too-large'].title,
      status: 413,
      detail: `The request body must be at most ${LIMITS.maxRequestBodyBytes} bytes.`,
    });
    // A static body: nothing request-specific (and never any request content) in it.
    expect(body.Content).not.toMatch(/\$context|requestId/);
  });

  it('THEN the per-IP rate limit is the default plan rate (the stage throttle, 50 rps) for 300 s', () => {
    const rule = acl.Rules.find((r: any) => r.Name === 'RateLimitPerIp');
    expect(rule.Statement.RateBasedStatement).toEqual({ Limit: 15_000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 });
    const stage = resourcesOfType(app.json('api'), 'AWS::ApiGateway::Stage')[0]![1].Properties;
    expect(stage.MethodSettings[0]).toMatchObject({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    expect(15_000).toBeGreaterThanOrEqual(50 * 300);
  });
});

describe('throttles that agree (config schema)', () => {
  it('GIVEN the defaults THEN the WAF limit is derived from the fastest plan and every plan fits under the stage', () => {
    const config = parseConfig({});
    expect(config.api.waf.rateLimitPer5Minutes).toBeUndefined();
    expect(wafRateLimitPer5Minutes(config)).toBe(15_000);
    expect(configProblems({})).toEqual([]);
  });

  it('GIVEN the old default (2000 per IP, about 6.7 rps) with 50 rps plans THEN the schema refuses it and says why', () => {
    expect(configProblems({ api: { waf: { rateLimitPer5Minutes: 2000 } } })).toEqual([
      "api.waf.rateLimitPer5Minutes: must be at least 15000 (the fastest usage plan's 50 requests/s for 300 s): a lower per-IP limit blocks a client that keeps to its plan",
    ]);
  });

  it('GIVEN slower client plans THEN a lower WAF limit is enough, and exactly the minimum is accepted', () => {
    const input: AppConfigInput = {
      api: { throttle: { rateLimit: 100, burstLimit: 200 }, clients: [{ name: 'a', throttle: { rateLimit: 10, burstLimit: 20 } }, { name: 'b', throttle: { rateLimit: 2.5, burstLimit: 5 } }] },
    };
    expect(minimumWafRateLimit(parseConfig(input))).toBe(3000);
    expect(configProblems({ ...input, api: { ...input.api, waf: { rateLimitPer5Minutes: 3000 } } })).toEqual([]);
    expect(configProblems({ ...input, api: { ...input.api, waf: { rateLimitPer5Minutes: 2999 } } })).toEqual([expect.stringMatching(/^api\.waf\.rateLimitPer5Minutes: must be at least 3000/)]);
  });

  it('GIVEN a client or Bearer plan above the stage throttle THEN the schema names the field and the stage cap', () => {
    expect(
      configProblems({
        api: { throttle: { rateLimit: 20, burstLimit: 40 }, clients: [{ name: 'ok' }, { name: 'greedy', throttle: { rateLimit: 30, burstLimit: 80 } }] },
        jwt: { issuer: 'https://login.example.com', audience: ['face'], throttle: { rateLimit: 25, burstLimit: 10 } },
      }),
    ).toEqual([
      'api.clients.1.throttle.rateLimit: must be at most api.throttle.rateLimit (20): the stage throttle caps all clients together, so a faster plan is never reached',
      'api.clients.1.throttle.burstLimit: must be at most api.throttle.burstLimit (40): the stage throttle caps all clients together',
      'jwt.throttle.rateLimit: must be at most api.throttle.rateLimit (20): the stage throttle caps all clients together, so a faster plan is never reached',
    ]);
  });

  it('GIVEN the WAF turned off THEN its rate limit is not checked (nothing enforces it)', () => {
    expect(configProblems({ api: { waf: { enabled: false, rateLimitPer5Minutes: 10 } } })).toEqual([]);
  });
});
