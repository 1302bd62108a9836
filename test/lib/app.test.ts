/**
 * The whole app: stack names, stable outputs, one snapshot per stack (asset
 * hashes normalised), strong cross-stack references that CloudFormation supports
 * in every region, and cdk-nag's AwsSolutions checks with no unacknowledged
 * finding in every compute and image mode and every example configuration.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackNames } from '../../lib/app.js';
import { PROJECT_DIR, loadConfig, type AppConfigInput } from '../../lib/config.js';
import { writeCalibratedTable } from './calibrated-table.js';
import { cdkJsonContext, normaliseTemplate, synth, type Synthesized } from './synth.js';

describe('the default app (no configuration at all), with cdk-nag', () => {
  let app: Synthesized;
  beforeAll(() => {
    // cdk-nag runs inside synth: an unacknowledged finding would throw here.
    app = synth({}, { nag: true });
  });
  afterAll(() => app.cleanup());

  it('GIVEN no configuration WHEN synthesized THEN three stacks named after the stage exist', () => {
    expect(stackNames('dev')).toEqual({ foundation: 'FaceVerification-dev-Foundation', service: 'FaceVerification-dev-Service', api: 'FaceVerification-dev-Api' });
    expect(app.assembly.stacks.map((s) => s.stackName).sort()).toEqual(['FaceVerification-dev-Api', 'FaceVerification-dev-Foundation', 'FaceVerification-dev-Service']);
  });

  it('THEN the outputs operators read have stable keys', () => {
    expect(Object.keys(app.json('foundation').Outputs)).toEqual(expect.arrayContaining(['ActivationKeySecretName', 'VendorCredentialsSecretName', 'AlarmTopicArn', 'VpcId']));
    expect(Object.keys(app.json('service').Outputs)).toEqual(expect.arrayContaining(['EcrRepositoryUri', 'ImageUri', 'ClusterName', 'ServiceName', 'ImageMirrorFunctionName']));
    expect(Object.keys(app.json('api').Outputs)).toEqual(expect.arrayContaining(['ApiUrl', 'SwaggerUrl', 'ApiKeyIdDefault', 'UsagePlanIdDefault', 'DashboardUrl']));
    expect(app.json('foundation').Outputs.ActivationKeySecretName.Value).toBe('face-verification/dev/activation-key');
    expect(JSON.stringify(app.json('api').Outputs.SwaggerUrl.Value)).toContain('swagger/index.html');
  });

  it('THEN the stacks read each other through exports (strong references): the Api stack imports the backend from the Service stack', () => {
    expect(cdkJsonContext()['@aws-cdk/core:defaultCrossStackReferences']).toBe('strong');
    expect(JSON.stringify(app.json('api'))).toContain('"Fn::ImportValue":"FaceVerification-dev-Service:ExportsOutput');
    expect(Object.values(app.json('service').Outputs as Record<string, any>).filter((o) => o.Export).length).toBeGreaterThan(0);
  });

  // CloudFormation User Guide, "DeletionPolicy attribute": Retain also keeps a resource when the stack's first
  // create rolls back (the retry then fails on "already exists"); RetainExceptOnCreate does not.
  it('THEN the operator secrets, the log keys and the ECR repository use RetainExceptOnCreate (kept on delete and replacement, not after a failed first create)', () => {
    const all = (['foundation', 'service', 'api'] as const).flatMap((stack) => Object.values(app.json(stack).Resources as Record<string, any>));
    const kept = all.filter((r) => ['AWS::SecretsManager::Secret', 'AWS::KMS::Key', 'AWS::ECR::Repository'].includes(r.Type) && r.DeletionPolicy !== 'Delete');
    // 2 operator secrets + 3 log keys (one per stack) + the mirror repository.
    expect(kept.map((r) => r.Type).sort()).toEqual(['AWS::ECR::Repository', 'AWS::KMS::Key', 'AWS::KMS::Key', 'AWS::KMS::Key', 'AWS::SecretsManager::Secret', 'AWS::SecretsManager::Secret']);
    for (const resource of kept) {
      expect(resource.DeletionPolicy, resource.Type).toBe('RetainExceptOnCreate');
      expect(resource.UpdateReplacePolicy, resource.Type).toBe('Retain');
    }
    // Plain Retain only on API Gateway's account-wide CloudWatch role setting (lib/constructs/api.ts): it holds no
    // data and has no fixed name, so a retry after a rolled-back first create does not collide with it.
    expect(all.filter((r) => r.DeletionPolicy === 'Retain').map((r) => r.Type).sort()).toEqual(['AWS::ApiGateway::Account', 'AWS::IAM::Role']);
    for (const group of Object.values(app.json('api').Resources as Record<string, any>).filter((r) => r.Type === 'AWS::Logs::LogGroup')) expect(group.DeletionPolicy).toBe('Delete');
  });

  it('THEN no secret value, key value or image appears in any template', () => {
    for (const stack of ['foundation', 'service', 'api'] as const) {
      const text = JSON.stringify(app.json(stack));
      expect(text).not.toMatch(/"SecretString"\s*:|"Value"\s*:\s*"[A-Za-z0-9]{20,}"|\/9j\/4AAQ|ACTIVATION_KEY","Value"/);
    }
  });

  for (const stack of ['foundation', 'service', 'api'] as const) {
    it(`THEN the ${stack} stack matches its snapshot (asset hashes normalised)`, async () => {
      const text = `${JSON.stringify(normaliseTemplate(app.json(stack)), null, 2)}\n`;
      expect(text).not.toContain('/work/');
      await expect(text).toMatchFileSnapshot(`./__snapshots__/${stack}-stack.template.json`);
    });
  }
});

describe('cdk-nag in every mode: no unacknowledged finding', () => {
  const modes: Array<[string, AppConfigInput]> = [
    ['EC2 GPU with a warm pool', { compute: { mode: 'ec2-gpu', warmPool: { minSize: 1 } } }],
    ['managed GPU on Spot, every capability dropped, world-writable scratch', { compute: { mode: 'managed-gpu', capacity: 'spot' }, container: { dropCapabilities: 'all', scratchPermissions: 'world-writable' } }],
    ['pull-through image supply', { imageSupply: { mode: 'pull-through' } }],
    ['external image', { imageSupply: { mode: 'external', imageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/face:1.2.3' } }],
    [
      'existing VPC, keys imported by name and ARN, follow rollout',
      {
        network: {
          mode: 'existing',
          vpcId: 'vpc-0123456789abcdef0',
          vpcCidr: '10.1.0.0/16',
          subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
          routeTableIds: ['rtb-0123456789abcdef0', 'rtb-0123456789abcdef1'],
          availabilityZones: ['eu-west-1a', 'eu-west-1b'],
        },
        activationKey: { secretName: 'face/activation-key' },
        imageSupply: { mode: 'mirror', rollout: 'follow', vendorCredentials: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vendor-AbCdEf' } },
      },
    ],
    [
      'Bearer JWT, private docs, custom domain, WAF off, score table, region-pinned',
      {
        env: { account: '123456789012', region: 'eu-west-1' },
        network: { mode: 'new', azCount: 3, availabilityZones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'] },
        jwt: { issuer: 'https://login.example.com', audience: ['face'] },
        compare: { mode: 'table', scoreTableFile: writeCalibratedTable() },
        api: {
          docs: 'private',
          waf: { enabled: false },
          customDomain: { domainName: 'face.example.com', certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' },
        },
      },
    ],
  ];

  it.each(modes)('GIVEN %s WHEN synthesized with AwsSolutionsChecks THEN synth succeeds', (_name, input) => {
    const app = synth(input, { nag: true });
    try {
      expect(app.assembly.stacks).toHaveLength(3);
    } finally {
      app.cleanup();
    }
  });

  it('GIVEN a resource nobody acknowledged WHEN synthesized with AwsSolutionsChecks THEN synth fails naming the rule (the check can fail)', () => {
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Unsafe');
    new sns.Topic(stack, 'PlainTopic');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SNS[23]/);
  });
});

/** CloudFormation intrinsic functions (keys of a one-key object) and condition functions. */
const INTRINSIC = /^(Fn::[A-Za-z]+|Ref|Condition)$/;

/** Every occurrence of `fn` in a template with the intrinsic functions around it, innermost last. */
function occurrences(node: unknown, fn: string, around: string[] = [], found: string[][] = []): string[][] {
  if (Array.isArray(node)) for (const item of node) occurrences(item, fn, around, found);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === fn) found.push(around);
      occurrences(value, fn, INTRINSIC.test(key) ? [...around, key] : around, found);
    }
  }
  return found;
}

/** The example stages: config/<stage>.json, plus the default (no -c stage). */
const EXAMPLE_STAGES = [undefined, ...readdirSync(join(PROJECT_DIR, 'config')).filter((file) => file.endsWith('.json')).map((file) => file.replace(/\.json$/, ''))];

describe('every example configuration (config/*.json and the default), as cdk synth loads it', () => {
  it('GIVEN config/ WHEN listed THEN the GPU, managed GPU and pull-through examples are there', () => {
    expect(EXAMPLE_STAGES).toEqual(expect.arrayContaining([undefined, 'gpu', 'gpu-managed', 'pull-through']));
  });

  it.each(EXAMPLE_STAGES.map((stage) => [stage ?? '(default)', stage] as const))(
    'GIVEN stage %s WHEN synthesized with cdk-nag THEN no template has Fn::GetStackOutput (aws-cdk PR 37948: not supported nested in other intrinsics in every region) and every Fn::ImportValue sits where CloudFormation allows it',
    (_label, stage) => {
      const context = cdkJsonContext();
      const config = loadConfig({ getContext: (key) => (key === 'stage' ? stage : context[key]) });
      const app = synth(config as AppConfigInput, { nag: true });
      try {
        expect(app.assembly.stacks).toHaveLength(3);
        for (const stack of ['foundation', 'service', 'api'] as const) {
          const template = app.json(stack);
          // Weak references (Fn::GetStackOutput) nested in Fn::Join/Select/Split/Sub/If fail in some regions.
          expect(occurrences(template, 'Fn::GetStackOutput').filter((around) => around.length > 0), `${stack}: nested Fn::GetStackOutput`).toEqual([]);
          expect(occurrences(template, 'Fn::GetStackOutput'), `${stack}: Fn::GetStackOutput`).toEqual([]);
          // CloudFormation User Guide, "Intrinsic function reference": Fn::ImportValue may appear in the value list of
          // Fn::Join, Fn::Split, Fn::Sub (its variable map) and Fn::If, or directly as a property value; not directly in Fn::Select.
          for (const around of occurrences(template, 'Fn::ImportValue')) {
            expect(['(property)', 'Fn::Join', 'Fn::Split', 'Fn::Sub', 'Fn::If'], `${stack}: Fn::ImportValue inside ${around.join(' > ')}`).toContain(around.at(-1) ?? '(property)');
          }
        }
      } finally {
        app.cleanup();
      }
    },
    120_000,
  );

  it('GIVEN a template with a weak reference nested in Fn::Join WHEN checked THEN the check finds it (the check can fail)', () => {
    const template = { Resources: { R: { Properties: { Url: { 'Fn::Join': ['', ['http://', { 'Fn::GetStackOutput': { StackName: 'S', OutputName: 'O' } }]] } } } } };
    expect(occurrences(template, 'Fn::GetStackOutput')).toEqual([['Fn::Join']]);
  });
});
