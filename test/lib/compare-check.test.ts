/**
 * Table-mode compare in the templates: the flag secret, the compare function reading it from
 * the VPC, the check function with its schedule, post-deployment rule and alarms, the mirror
 * custom resource bound to the table's digest, and the follow rollout's permission to switch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INITIAL_COMPARE_MODE_FLAG, parseCompareModeFlag } from '../../lambda/shared/compare-mode.js';
import { PASSED_CALIBRATION, writeCalibratedTable } from './calibrated-table.js';
import { resourcesOfType, synth, type Synthesized } from './synth.js';

const functionByDescription = (json: Record<string, any>, pattern: RegExp) => {
  const found = resourcesOfType(json, 'AWS::Lambda::Function').find(([, f]) => pattern.test(f.Properties.Description ?? ''));
  if (!found) throw new Error(`no function matching ${pattern}`);
  return found;
};
const statementsOf = (json: Record<string, any>, roleRef: string) =>
  resourcesOfType(json, 'AWS::IAM::Policy')
    .filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === roleRef))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>);
/** A reference to another stack's output (the app uses weak references: Fn::GetStackOutput). */
const crossStack = (name: string) => new RegExp(`(Fn::ImportValue|Fn::GetStackOutput).*${name}`);
const actionsOf = (statements: Array<{ Action: string | string[] }>) => statements.flatMap((s) => [s.Action].flat());

describe('GIVEN compare.mode "table" with a mirror that follows the vendor tag', () => {
  let app: Synthesized;
  let api: Record<string, any>;
  let foundation: Record<string, any>;
  let service: Record<string, any>;
  beforeAll(() => {
    app = synth({ compare: { mode: 'table', scoreTableFile: writeCalibratedTable() }, imageSupply: { mode: 'mirror', rollout: 'follow' } });
    api = app.json('api');
    foundation = app.json('foundation');
    service = app.json('service');
  });
  afterAll(() => app.cleanup());

  it('THEN the foundation holds the compare-mode flag, starting at "table", as a constant (a redeploy never resets a "forward")', () => {
    const secrets = resourcesOfType(foundation, 'AWS::SecretsManager::Secret').filter(([, s]) => /Compare mode switch/.test(s.Properties.Description));
    expect(secrets).toHaveLength(1);
    // Generated once from a template (no value inline); parseCompareModeFlag ignores the generated nonce.
    expect(secrets[0]![1].Properties.SecretString).toBeUndefined();
    const template = secrets[0]![1].Properties.GenerateSecretString.SecretStringTemplate;
    expect(template).toBe(JSON.stringify(INITIAL_COMPARE_MODE_FLAG));
    expect(parseCompareModeFlag(JSON.stringify({ ...JSON.parse(template), nonce: 'Ab12Cd34' }))).toEqual({ mode: 'table', by: 'deploy' });
  });

  it('THEN compare runs in the VPC with the backend URL and reads (only reads) the flag', () => {
    const [, compare] = functionByDescription(api, /^POST compare-face-embeddings/);
    const variables = compare.Properties.Environment.Variables;
    expect(variables).toMatchObject({ COMPARE_MODE: 'table', SCORE_TABLE: 'score-table.json' });
    expect(variables.BACKEND_URL).toBeDefined();
    expect(JSON.stringify(variables.COMPARE_MODE_SECRET_ID)).toMatch(crossStack('CompareModeSecret'));
    expect(compare.Properties.VpcConfig.SubnetIds).toBeDefined();
    const actions = actionsOf(statementsOf(api, compare.Properties.Role['Fn::GetAtt'][0]));
    expect(actions).toEqual(expect.arrayContaining(['secretsmanager:GetSecretValue']));
    expect(actions).not.toContain('secretsmanager:PutSecretValue');
  });

  it('THEN the check function runs in the VPC with the same table, may put a new flag value, and has a fixed name', () => {
    const [, check] = functionByDescription(api, /^Checks the compare score table/);
    expect(check.Properties.FunctionName).toBe('face-verification-dev-compare-check');
    expect(check.Properties.VpcConfig.SubnetIds).toBeDefined();
    expect(check.Properties.Environment.Variables).toMatchObject({ SCORE_TABLE: 'score-table.json', CHECK_RANDOM_PAIRS: '32' });
    const statements = statementsOf(api, check.Properties.Role['Fn::GetAtt'][0]);
    const put = statements.find((s) => [s.Action].flat().includes('secretsmanager:PutSecretValue'))!;
    expect([put.Action].flat()).toEqual(['secretsmanager:PutSecretValue']);
    expect(JSON.stringify(put.Resource)).toMatch(crossStack('CompareModeSecret'));
  });

  it('THEN a rule runs it every 15 minutes and another after each completed deployment of the face service', () => {
    const rules = resourcesOfType(api, 'AWS::Events::Rule').map(([, r]) => r.Properties);
    expect(rules.find((r) => r.ScheduleExpression === 'rate(15 minutes)')).toBeDefined();
    const after = rules.find((r) => r.EventPattern?.source?.[0] === 'aws.ecs')!;
    expect(after.EventPattern).toMatchObject({ 'detail-type': ['ECS Deployment State Change'], detail: { eventName: ['SERVICE_DEPLOYMENT_COMPLETED'] } });
    expect(JSON.stringify(after.EventPattern.resources)).toMatch(crossStack('Service'));
  });

  it('THEN a mismatch, forwarding, and two checks without a verdict each alarm on the alarm topic', () => {
    const alarms = resourcesOfType(api, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties).filter((a) => a.Namespace === 'FaceVerification' && a.Dimensions?.[0]?.Value === 'face-compare-check');
    const byMetric = Object.fromEntries(alarms.map((a) => [a.MetricName, a]));
    expect(byMetric.CompareTableMismatches).toMatchObject({ Statistic: 'Sum', Threshold: 1, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect(byMetric.CompareForwarding).toMatchObject({ Statistic: 'Maximum', Threshold: 1, Period: 900 });
    expect(byMetric.CompareCheckInconclusive).toMatchObject({ EvaluationPeriods: 2, DatapointsToAlarm: 2 });
    for (const alarm of alarms) expect(JSON.stringify(alarm.AlarmActions)).toMatch(crossStack('Alarms'));
  });

  it('THEN the mirror custom resource requires the table\'s digest, so a deploy of another image fails in it', () => {
    const [, mirror] = resourcesOfType(service, 'Custom::VendorImageMirror')[0]!;
    expect(mirror.Properties.RequiredDigest).toBe(PASSED_CALIBRATION.imageDigest);
  });

  it('THEN the follow sync function knows the table digest and may switch compare to forwarding', () => {
    const [, sync] = functionByDescription(service, /^Re-mirrors the vendor image on a schedule \(rollout: follow\)/);
    expect(sync.Properties.Environment.Variables.TABLE_IMAGE_DIGEST).toBe(PASSED_CALIBRATION.imageDigest);
    expect(JSON.stringify(sync.Properties.Environment.Variables.COMPARE_MODE_SECRET_ID)).toMatch(crossStack('CompareModeSecret'));
    expect(actionsOf(statementsOf(service, sync.Properties.Role['Fn::GetAtt'][0]))).toContain('secretsmanager:PutSecretValue');
  });
});

describe('GIVEN compare.mode "forward"', () => {
  let app: Synthesized;
  beforeAll(() => {
    app = synth({});
  });
  afterAll(() => app.cleanup());

  it('THEN there is no flag, no check function and no digest binding', () => {
    expect(resourcesOfType(app.json('foundation'), 'AWS::SecretsManager::Secret').filter(([, s]) => /Compare mode switch/.test(s.Properties.Description))).toHaveLength(0);
    expect(resourcesOfType(app.json('api'), 'AWS::Lambda::Function').filter(([, f]) => /^Checks the compare/.test(f.Properties.Description ?? ''))).toHaveLength(0);
    expect(resourcesOfType(app.json('service'), 'Custom::VendorImageMirror')[0]![1].Properties.RequiredDigest).toBeUndefined();
  });
});

describe('GIVEN compare.mode "table" WHEN synthesized with AwsSolutionsChecks', () => {
  it.each([['pinned'], ['follow']] as const)('THEN cdk-nag is quiet (mirror %s)', (rollout) => {
    const app = synth({ compare: { mode: 'table', scoreTableFile: writeCalibratedTable() }, imageSupply: { mode: 'mirror', rollout } }, { nag: true });
    try {
      expect(app.assembly.stacks).toHaveLength(3);
    } finally {
      app.cleanup();
    }
  });
});
