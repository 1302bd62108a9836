/**
 * compare-face-embeddings-batch in the CDK app (issue 11 point 3): a second route on the compare
 * function with the same authorizer, API key requirement (so the same usage plans) and integration
 * as compare-face-embeddings, its concurrency in the function's environment, and a per-route
 * dashboard widget from the stage's detailed (per-method) metrics. Synthesized with cdk-nag.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourcesOfType, synth, type Synthesized } from './synth.js';

function resourceIdAt(template: Record<string, any>, pathPart: string): string {
  const [id] = resourcesOfType(template, 'AWS::ApiGateway::Resource').find(([, r]) => r.Properties.PathPart === pathPart) ?? [];
  expect(id, `resource ${pathPart}`).toBeDefined();
  return id!;
}

function methodAt(template: Record<string, any>, pathPart: string, verb: string): any {
  const resourceId = resourceIdAt(template, pathPart);
  return resourcesOfType(template, 'AWS::ApiGateway::Method').find(([, m]) => m.Properties.ResourceId.Ref === resourceId && m.Properties.HttpMethod === verb)?.[1].Properties;
}

describe('compare-face-embeddings-batch in the API stack (default configuration, cdk-nag on)', () => {
  let app: Synthesized;
  let json: Record<string, any>;
  beforeAll(() => {
    // cdk-nag runs inside synth: an unacknowledged finding on the new route would throw here.
    app = synth({}, { nag: true });
    json = app.json('api');
  }, 120_000);
  afterAll(() => app.cleanup());

  it('GIVEN the default config WHEN synthesized THEN POST .../compare-face-embeddings-batch is a sibling of compare with the same authorizer, key requirement and integration', () => {
    const batch = methodAt(json, 'compare-face-embeddings-batch', 'POST');
    const single = methodAt(json, 'compare-face-embeddings', 'POST');
    expect(batch).toMatchObject({ AuthorizationType: 'CUSTOM', ApiKeyRequired: true, Integration: { Type: 'AWS_PROXY', TimeoutInMillis: 29000 } });
    expect(batch.AuthorizerId).toEqual(single.AuthorizerId);
    // Same function: the Integration URI names the compare function's ARN.
    expect(JSON.stringify(batch.Integration.Uri)).toBe(JSON.stringify(single.Integration.Uri));
    const parent = resourcesOfType(json, 'AWS::ApiGateway::Resource').find(([, r]) => r.Properties.PathPart === 'compare-face-embeddings-batch')![1].Properties.ParentId;
    expect(parent).toEqual({ Ref: resourceIdAt(json, 'face-verification') });
    // No method of its own skips the plans: usage plans are stage-wide, and every plan names the stage.
    for (const [, plan] of resourcesOfType(json, 'AWS::ApiGateway::UsagePlan')) {
      expect(plan.Properties.ApiStages).toHaveLength(1);
      expect(plan.Properties.ApiStages[0].Throttle ?? {}).toEqual({});
    }
  });

  it('THEN API Gateway may invoke the compare function for the batch route only through this API (scoped permission)', () => {
    const permissions = resourcesOfType(json, 'AWS::Lambda::Permission').filter(([, p]) => JSON.stringify(p.Properties.SourceArn).includes('/POST/v1/face-verification/compare-face-embeddings-batch'));
    expect(permissions).toHaveLength(1);
    expect(permissions[0]![1].Properties.Principal).toBe('apigateway.amazonaws.com');
  });

  it('THEN the compare function serves both routes and gets the batch concurrency bound (8)', () => {
    const [, compare] = resourcesOfType(json, 'AWS::Lambda::Function').find(([, fn]) => /^POST compare-face-embeddings and -batch/.test(fn.Properties.Description ?? ''))!;
    expect(compare.Properties.Environment.Variables.COMPARE_BATCH_CONCURRENCY).toBe('8');
    expect(compare.Properties.Timeout).toBe(30);
  });

  it('THEN the dashboard has a widget per compare route from the per-method metrics (ApiName, Method, Resource, Stage)', () => {
    const [[, dashboard]] = resourcesOfType(json, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const resource of ['/v1/face-verification/compare-face-embeddings-batch', '/v1/face-verification/compare-face-embeddings']) {
      expect(body).toContain(`POST ${resource}`);
      expect(body).toContain(`\\"Resource\\",\\"${resource}\\"`);
    }
    expect(body).toMatch(/\\"AWS\/ApiGateway\\",\\"5XXError\\",\\"ApiName\\",\\"FaceVerification-dev-Api\\",\\"Method\\",\\"POST\\",\\"Resource\\",\\"\/v1\/face-verification\/compare-face-embeddings-batch\\",\\"Stage\\"/);
    // The per-method metrics exist only with detailed metrics on the stage.
    const [[, stage]] = resourcesOfType(json, 'AWS::ApiGateway::Stage');
    expect(stage.Properties.MethodSettings).toEqual(expect.arrayContaining([expect.objectContaining({ HttpMethod: '*', ResourcePath: '/*', MetricsEnabled: true })]));
  });

  it('THEN the alarm count is unchanged: the compare function alarms and the stage-wide API alarms cover the batch route', () => {
    const alarms = resourcesOfType(json, 'AWS::CloudWatch::Alarm').map(([id]) => id);
    expect(alarms.filter((id) => /Compare(Errors|Throttles)/.test(id))).toHaveLength(2);
    expect(alarms.some((id) => /batch/i.test(id))).toBe(false);
  });
});
