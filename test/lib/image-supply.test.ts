/** ImageSupply in its three modes: mirror (default), pull-through, external. */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VENDOR_REGISTRY, VENDOR_REPOSITORY, parseConfig } from '../../lib/config.js';
import { ImageSupply, parseImageUri, parseRegistry } from '../../lib/constructs/image-supply.js';
import { CONTAINER_NAME } from '../../lib/constructs/service.js';
import { cdkJsonContext, resourcesOfType, synth, type Synthesized } from './synth.js';

/** The statements of every IAM policy attached to a role whose logical id starts with `rolePrefix`. */
function statementsOfRole(template: Record<string, any>, rolePrefix: RegExp): any[] {
  return resourcesOfType(template, 'AWS::IAM::Policy')
    .filter(([, policy]) => policy.Properties.Roles.some((role: any) => rolePrefix.test(role.Ref)))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement);
}
const actionsOf = (statements: any[]) => statements.flatMap((s) => [s.Action].flat());

function imageOf(template: Record<string, any>): unknown {
  const [[, taskDefinition]] = resourcesOfType(template, 'AWS::ECS::TaskDefinition');
  return taskDefinition.Properties.ContainerDefinitions[0].Image;
}

describe('ImageSupply: mirror (default)', () => {
  let app: Synthesized;
  let template: Template;
  let json: Record<string, any>;
  beforeAll(() => {
    app = synth({ vendorImage: { tag: '2.4.1' } });
    template = app.template('service');
    json = app.json('service');
  });
  afterAll(() => app.cleanup());

  it('GIVEN mirror mode WHEN synthesized THEN the target repository scans on push, is KMS-encrypted, keeps 10 images and is retained', () => {
    template.hasResource('AWS::ECR::Repository', {
      Properties: Match.objectLike({
        ImageScanningConfiguration: { ScanOnPush: true },
        EncryptionConfiguration: { EncryptionType: 'KMS' },
        LifecyclePolicy: { LifecyclePolicyText: Match.stringLikeRegexp('"countNumber":10') },
      }),
      DeletionPolicy: 'RetainExceptOnCreate', // CloudFormation "DeletionPolicy attribute": not kept after a rolled-back first create
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('THEN the mirror function gets the vendor image, the credentials secret and the target repository as environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('CloudFormation custom resource'),
      Timeout: 900,
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Environment: {
        Variables: Match.objectLike({
          VENDOR_REGISTRY,
          VENDOR_REPOSITORY,
          VENDOR_TAG: '2.4.1',
          VENDOR_CREDENTIALS_SECRET_ID: Match.anyValue(),
          TARGET_REPOSITORY_NAME: { Ref: Match.stringLikeRegexp('^ImageRepository') },
          ROLLOUT_MODE: 'pinned',
        }),
      },
    });
  });

  it('THEN a custom resource runs the mirror on every deploy (refresh token) with the vendor image as a property', () => {
    template.hasResourceProperties('Custom::VendorImageMirror', {
      VendorImage: `${VENDOR_REGISTRY}/${VENDOR_REPOSITORY}:2.4.1`,
      RefreshToken: 'test-token',
    });
  });

  it('THEN the task definition names the image by the digest the custom resource returns', () => {
    const image = JSON.stringify(imageOf(json));
    expect(image).toMatch(/"@",\{"Fn::GetAtt":\["ImageMirror[0-9A-F]+","ImageDigest"\]\}/);
    expect(image).not.toMatch(/:latest|:2\.4\.1/);
  });

  it('THEN the ECS service waits for the mirror custom resource', () => {
    const [[, service]] = resourcesOfType(json, 'AWS::ECS::Service');
    const [[mirrorId]] = resourcesOfType(json, 'Custom::VendorImageMirror');
    expect(service.DependsOn).toContain(mirrorId);
  });

  it('THEN the mirror may push to its repository only and read the vendor credentials', () => {
    const statements = statementsOfRole(json, /^ImageMirrorFunctionRole/);
    const push = statements.find((s) => [s.Action].flat().includes('ecr:PutImage'));
    expect(push.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^ImageRepository/), 'Arn'] });
    expect([push.Action].flat().sort()).toEqual(
      ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:CompleteLayerUpload', 'ecr:DescribeRepositories', 'ecr:InitiateLayerUpload', 'ecr:PutImage', 'ecr:UploadLayerPart'],
    );
    expect(actionsOf(statements)).toContain('secretsmanager:GetSecretValue');
    expect(actionsOf(statements).filter((a: string) => a.startsWith('ecs:'))).toEqual([]);
  });

  it('THEN a daily schedule runs the sync function, which knows the ECS service but may only read it (pinned)', () => {
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 day)', State: 'ENABLED' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('schedule'),
      // The default name `npm run sync-image -- --stage dev` invokes.
      FunctionName: 'face-verification-dev-image-mirror',
      Environment: { Variables: Match.objectLike({ ECS_CLUSTER: Match.anyValue(), ECS_SERVICE: Match.anyValue(), CONTAINER_NAME, ROLLOUT_MODE: 'pinned' }) },
    });
    const actions = actionsOf(statementsOfRole(json, /^ImageSyncFunctionRole/));
    expect(actions).toEqual(expect.arrayContaining(['ecs:DescribeServices', 'ecs:DescribeTaskDefinition']));
    expect(actions).not.toContain('ecs:UpdateService');
    expect(actions).not.toContain('iam:PassRole');
  });

  it('THEN an alarm on mirror errors notifies the alarm topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp('mirror failed'),
      Threshold: 1,
      AlarmActions: [Match.anyValue()],
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'mirror + sync' })]),
    });
  });

  it('THEN the execution role may pull from the mirror repository', () => {
    const actions = actionsOf(statementsOfRole(json, /^FaceTaskDefinitionExecutionRole/));
    expect(actions).toEqual(expect.arrayContaining(['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:GetAuthorizationToken', 'secretsmanager:GetSecretValue']));
  });

  it('THEN the vendor credentials secret is created with a placeholder in the foundation stack', () => {
    app.template('foundation').hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'face-verification/dev/vendor-registry-credentials',
      GenerateSecretString: Match.objectLike({ SecretStringTemplate: Match.stringLikeRegexp('REPLACE_WITH_VENDOR_ACCESS_KEY_ID'), GenerateStringKey: 'secretAccessKey' }),
    });
  });
});

describe('ImageSupply: mirror with rollout follow and imported credentials', () => {
  let app: Synthesized;
  let json: Record<string, any>;
  beforeAll(() => {
    app = synth({
      imageSupply: { mode: 'mirror', rollout: 'follow', schedule: 'cron(0 3 * * ? *)', vendorCredentials: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vendor-AbCdEf' } },
    });
    json = app.json('service');
  });
  afterAll(() => app.cleanup());

  it('GIVEN follow WHEN synthesized THEN the sync function may register a task definition, update its service and pass only the task roles', () => {
    const statements = statementsOfRole(json, /^ImageSyncFunctionRole/);
    const actions = actionsOf(statements);
    expect(actions).toEqual(expect.arrayContaining(['ecs:RegisterTaskDefinition', 'ecs:UpdateService', 'ecs:ListTaskDefinitions', 'iam:PassRole']));
    const passRole = statements.find((s) => s.Action === 'iam:PassRole');
    expect(passRole.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
    const passed = passRole.Resource.map((r: any) => r['Fn::GetAtt'][0]).sort();
    expect(passed).toEqual([expect.stringMatching(/^FaceTaskDefinitionExecutionRole/), expect.stringMatching(/^FaceTaskDefinitionTaskRole/)]);
    const update = statements.find((s) => [s.Action].flat().includes('ecs:UpdateService'));
    expect(JSON.stringify(update.Resource)).toMatch(/FaceService/);
  });

  it('THEN the schedule uses the configured expression and the imported secret ARN is passed as is', () => {
    Template.fromJSON(json).hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0 3 * * ? *)' });
    Template.fromJSON(json).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ROLLOUT_MODE: 'follow', VENDOR_CREDENTIALS_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vendor-AbCdEf' }) },
    });
    app.template('foundation').resourceCountIs('AWS::SecretsManager::Secret', 1);
  });
});

describe('ImageSupply: pull-through', () => {
  let app: Synthesized;
  let template: Template;
  let json: Record<string, any>;
  beforeAll(() => {
    app = synth({ imageSupply: { mode: 'pull-through', repositoryPrefix: 'vendor-cache', keepImages: 5 }, vendorImage: { tag: '2.4.1' } });
    template = app.template('service');
    json = app.json('service');
  });
  afterAll(() => app.cleanup());

  it('GIVEN pull-through WHEN synthesized THEN a cache rule points at the vendor ECR registry with a custom role', () => {
    template.hasResourceProperties('AWS::ECR::PullThroughCacheRule', {
      EcrRepositoryPrefix: 'vendor-cache',
      UpstreamRegistry: 'ecr',
      UpstreamRegistryUrl: VENDOR_REGISTRY,
      CustomRoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ImagePullThroughRole'), 'Arn'] },
    });
  });

  it('THEN the role is assumable by the pull-through cache and may read the vendor repository', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'pullthroughcache.ecr.amazonaws.com' } })] },
    });
    const statements = statementsOfRole(json, /^ImagePullThroughRole/);
    const read = statements.find((s) => [s.Action].flat().includes('ecr:BatchImportUpstreamImage'));
    expect(JSON.stringify(read.Resource)).toContain(':ecr:eu-west-1:249265253269:repository/verifeye/face-verification-api');
  });

  it('THEN a repository creation template encrypts, scans and expires cached repositories', () => {
    template.hasResourceProperties('AWS::ECR::RepositoryCreationTemplate', {
      Prefix: 'vendor-cache',
      AppliedFor: ['PULL_THROUGH_CACHE'],
      EncryptionConfiguration: { EncryptionType: 'KMS' },
      LifecyclePolicy: Match.stringLikeRegexp('"countNumber":5'),
    });
    template.resourceCountIs('AWS::ECR::Repository', 0);
    template.resourceCountIs('Custom::VendorImageMirror', 0);
    app.template('foundation').resourceCountIs('AWS::SecretsManager::Secret', 1);
  });

  it('THEN the task pulls <account>.dkr.ecr.<region>/<prefix>/<vendor repo>:<tag> and may import and create the cached repository', () => {
    expect(JSON.stringify(imageOf(json))).toMatch(/\.dkr\.ecr\..*\/vendor-cache\/verifeye\/face-verification-api:2\.4\.1/);
    const statements = statementsOfRole(json, /^FaceTaskDefinitionExecutionRole/);
    const pull = statements.find((s) => [s.Action].flat().includes('ecr:BatchImportUpstreamImage'));
    expect([pull.Action].flat()).toEqual(expect.arrayContaining(['ecr:CreateRepository', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer']));
    expect(JSON.stringify(pull.Resource)).toContain(':repository/vendor-cache/*');
  });
});

describe('ImageSupply: external', () => {
  let app: Synthesized;
  let json: Record<string, any>;
  const imageUri = '123456789012.dkr.ecr.eu-central-1.amazonaws.com/team/face-api@sha256:' + 'a'.repeat(64);
  beforeAll(() => {
    app = synth({ imageSupply: { mode: 'external', imageUri } });
    json = app.json('service');
  });
  afterAll(() => app.cleanup());

  it('GIVEN an external ECR image WHEN synthesized THEN the task uses it verbatim and may pull from that repository only', () => {
    expect(imageOf(json)).toBe(imageUri);
    const statements = statementsOfRole(json, /^FaceTaskDefinitionExecutionRole/);
    const pull = statements.find((s) => [s.Action].flat().includes('ecr:BatchGetImage'));
    expect(JSON.stringify(pull.Resource)).toContain(':ecr:eu-central-1:123456789012:repository/team/face-api');
    Template.fromJSON(json).resourceCountIs('AWS::ECR::Repository', 0);
    Template.fromJSON(json).resourceCountIs('AWS::ECR::PullThroughCacheRule', 0);
  });
});

describe('ImageSupply: invalid props', () => {
  it('GIVEN mirror mode without credentials WHEN built THEN it throws naming the missing secret', () => {
    const stack = new Stack(new App({ context: cdkJsonContext() }), 'Test');
    expect(
      () =>
        new ImageSupply(stack, 'Image', {
          config: parseConfig({}).imageSupply,
          vendorImage: parseConfig({}).vendorImage,
          logRetention: logs.RetentionDays.ONE_WEEK,
        }),
    ).toThrow(/mode "mirror" needs vendorCredentials/);
  });

  it('GIVEN a mirror that is never bound to a service WHEN synthesized THEN validation names bindService', () => {
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Test');
    const secret = new Secret(stack, 'Creds');
    new ImageSupply(stack, 'Image', {
      config: parseConfig({}).imageSupply,
      vendorImage: parseConfig({}).vendorImage,
      vendorCredentials: { secret, secretId: secret.secretArn },
      logRetention: logs.RetentionDays.ONE_WEEK,
    });
    expect(() => app.synth()).toThrow(/call bindService\(\)/);
  });

  it('GIVEN registry and image strings WHEN parsed THEN account, region and repository come out, and junk throws', () => {
    expect(parseRegistry(VENDOR_REGISTRY)).toEqual({ account: '249265253269', region: 'eu-west-1' });
    expect(parseImageUri('123456789012.dkr.ecr.us-east-1.amazonaws.com/a/b:1')).toEqual({
      registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com',
      account: '123456789012',
      region: 'us-east-1',
      repository: 'a/b',
    });
    expect(() => parseRegistry('docker.io')).toThrow(/not an ECR registry host/);
    expect(() => parseImageUri('nginx:latest')).toThrow(/not an ECR image URI/);
  });
});
