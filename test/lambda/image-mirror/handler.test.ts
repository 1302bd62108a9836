/**
 * The Lambda handler: event shapes in, answers out, over the real mirror code,
 * a real blob server, and mocked ECR / Secrets Manager / ECS. Everything the
 * function writes to stdout (Powertools logs and EMF metrics) is captured and
 * checked for secrets.
 */
import { randomBytes } from 'node:crypto';
import { ECRClient, InitiateLayerUploadCommand, PutImageCommand } from '@aws-sdk/client-ecr';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { classifyEvent, handler } from '../../../lambda/image-mirror.js';
import { parseCompareModeFlag } from '../../../lambda/shared/compare-mode.js';
import { MirrorError } from '../../../lambda/shared/image-mirror/errors.js';
import { MEDIA_TYPES } from '../../../lambda/shared/image-mirror/manifest.js';
import { dockerManifest, FakeEcr, startBlobServer, type BlobServer } from '../../../scripts/bench/mirror.js';

const ecrMock = mockClient(ECRClient);
const ecsMock = mockClient(ECSClient);
const secretsMock = mockClient(SecretsManagerClient);
const context = { getRemainingTimeInMillis: () => 900_000, awsRequestId: 'req-1' };
const TD_ARN = 'arn:aws:ecs:eu-central-1:111122223333:task-definition/face-api:3';

let server: BlobServer;
let fake: FakeEcr;
let digest: string;
let stdout: string[];
let secretCounter = 0;

beforeAll(async () => {
  server = await startBlobServer();
});
afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  ecrMock.reset();
  ecsMock.reset();
  secretsMock.reset();
  fake = new FakeEcr(server, { partSize: 64 * 1024 });
  fake.install(ecrMock);
  const cfg = fake.addSourceBlob(Buffer.from('{"os":"linux","architecture":"amd64"}'));
  const layer = fake.addSourceBlob(randomBytes(200_000));
  digest = fake.addSourceManifest(dockerManifest(cfg, [layer]), MEDIA_TYPES.dockerManifest, '1.4.0');
  secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(fake.options.keyPair) });

  // The function's cached vendor client is keyed by secret id: a fresh id per test reads the (mocked) secret again.
  const env: Record<string, string> = {
    AWS_REGION: 'eu-central-1',
    VENDOR_REGISTRY: '249265253269.dkr.ecr.eu-west-1.amazonaws.com',
    VENDOR_REPOSITORY: 'verifeye/face-verification-api',
    VENDOR_TAG: '1.4.0',
    VENDOR_CREDENTIALS_SECRET_ID: `vendor/ecr-pull-${++secretCounter}`,
    TARGET_REPOSITORY_NAME: fake.options.targetRepository,
    ROLLOUT_MODE: 'pinned',
  };
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  // Powertools writes INFO to stdout and WARN/ERROR to stderr: capture both.
  stdout = [];
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
  }
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

function followService(): void {
  vi.stubEnv('ROLLOUT_MODE', 'follow');
  vi.stubEnv('ECS_CLUSTER', 'face');
  vi.stubEnv('ECS_SERVICE', 'face-api');
  vi.stubEnv('CONTAINER_NAME', 'api');
  ecsMock.on(DescribeServicesCommand).resolves({ services: [{ status: 'ACTIVE', taskDefinition: TD_ARN, deployments: [{ rolloutState: 'COMPLETED' }] }] });
  ecsMock.on(DescribeTaskDefinitionCommand).resolves({
    taskDefinition: { taskDefinitionArn: TD_ARN, family: 'face-api', containerDefinitions: [{ name: 'api', image: `${fake.targetRepositoryUri}:old` }] },
  });
  ecsMock.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [TD_ARN] });
  ecsMock.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: `${TD_ARN.slice(0, -1)}4` } });
  ecsMock.on(UpdateServiceCommand).resolves({});
}

const cfnEvent = (RequestType: 'Create' | 'Update' | 'Delete') =>
  ({
    RequestType,
    ServiceToken: 'arn:aws:lambda:eu-central-1:111122223333:function:provider',
    ResponseURL: 'https://cloudformation-custom-resource-response.example/',
    StackId: 'arn:aws:cloudformation:eu-central-1:111122223333:stack/face/1',
    RequestId: 'r1',
    LogicalResourceId: 'VendorImage',
    ResourceType: 'Custom::VendorImage',
    ResourceProperties: { ServiceToken: 'x' },
    ...(RequestType === 'Create' ? {} : { PhysicalResourceId: 'face-verification/vendor-api@sha256:old' }),
  }) as never;

describe('GIVEN a CloudFormation custom resource event', () => {
  it('WHEN Create THEN the image is copied and the digest returned as PhysicalResourceId and Data, with no ECS rollout even in follow mode', async () => {
    followService();
    const answer = await handler(cfnEvent('Create'), context);
    expect(answer).toEqual({
      PhysicalResourceId: `${fake.options.targetRepository}@${digest}`,
      Data: { ImageDigest: digest, ImageUri: `${fake.targetRepositoryUri}@${digest}` },
    });
    expect(fake.target.tags.get('1.4.0')).toBe(digest);
    expect(ecsMock.calls()).toHaveLength(0);
  });

  it('WHEN Delete THEN nothing is called and the physical id is kept', async () => {
    const answer = await handler(cfnEvent('Delete'), context);
    expect(answer).toEqual({ PhysicalResourceId: 'face-verification/vendor-api@sha256:old' });
    expect(ecrMock.calls()).toHaveLength(0);
    expect(secretsMock.calls()).toHaveLength(0);
  });
});

describe('GIVEN a scheduled or on-demand sync', () => {
  it('WHEN scheduled in follow mode THEN the image is copied and the service moved to <repo>@<digest>', async () => {
    followService();
    const answer = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event' }, context);
    expect(answer).toEqual({ digest, copied: 2, skipped: 0, bytesCopied: 200_000 + 37, rolledOut: true, imageUri: `${fake.targetRepositoryUri}@${digest}` });
    const registered = ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input;
    expect(registered.containerDefinitions?.[0]?.image).toBe(`${fake.targetRepositoryUri}@${digest}`);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(1);
    // EMF metrics were published.
    const emf = stdout.map((l) => l.trim()).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(emf.some((m) => m.LayersCopied === 2 && m.BytesCopied === 200_037 && m.MirrorFailed === 0)).toBe(true);
    // Per-layer progress lines (short digest, bytes done / total); never a pre-signed URL.
    const logs = stdout.map((l) => l.trim()).filter((l) => l.startsWith('{"level"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs).toContainEqual(expect.objectContaining({ message: 'layer copied', bytesDone: 200_000, bytesTotal: 200_000, layer: expect.stringMatching(/^sha256:[a-f0-9]{12}$/) }));
    expect(stdout.join('')).not.toContain('X-Amz-Signature');
  });

  it('WHEN {"action":"sync"} runs twice in pinned mode THEN the second run copies nothing and ECS is never changed', async () => {
    const first = await handler({ action: 'sync' }, context);
    expect(first).toMatchObject({ digest, copied: 2, rolledOut: false });
    ecrMock.resetHistory();
    const second = await handler({ action: 'sync' }, context);
    expect(second).toEqual({ digest, copied: 0, skipped: 2, bytesCopied: 0, rolledOut: false, imageUri: `${fake.targetRepositoryUri}@${digest}` });
    expect(ecrMock.commandCalls(InitiateLayerUploadCommand)).toHaveLength(0);
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(0);
    expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('WHEN the vendor key is rejected THEN the invocation fails with CREDENTIALS_REJECTED and nothing written to stdout holds a key', async () => {
    const wrong = { accessKeyId: 'AKIAWRONGWRONGWRONG9', secretAccessKey: 'Wr0ng/Secret+Value/9' };
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(wrong) });
    const err = await handler({ action: 'sync' }, context).catch((e: unknown) => e);
    expect((err as MirrorError).code).toBe('CREDENTIALS_REJECTED');
    const out = stdout.join('');
    expect(out).toContain('CREDENTIALS_REJECTED');
    expect(out).toContain('"MirrorFailed":1');
    for (const value of [wrong.accessKeyId, wrong.secretAccessKey, fake.options.keyPair.accessKeyId, fake.options.keyPair.secretAccessKey]) {
      expect(out).not.toContain(value);
    }
  });

  it('WHEN a required variable is missing THEN CONFIG_INVALID names it and MirrorFailed is published', async () => {
    vi.stubEnv('VENDOR_TAG', '');
    const err = await handler({ action: 'sync' }, context).catch((e: unknown) => e);
    expect((err as MirrorError).code).toBe('CONFIG_INVALID');
    expect((err as Error).message).toContain('VENDOR_TAG is required');
    expect(stdout.join('')).toContain('"MirrorFailed":1');
  });
});

describe('GIVEN table-mode compare bound to an image digest', () => {
  const cfnWithDigest = (requiredDigest: string) => {
    const event = cfnEvent('Update') as unknown as { ResourceProperties: Record<string, string> };
    return { ...event, ResourceProperties: { ...event.ResourceProperties, RequiredDigest: requiredDigest } } as never;
  };

  it('WHEN the custom resource mirrors another digest than the table\'s THEN the deploy fails saying what to run, and ECS is not touched', async () => {
    followService();
    const stale = `sha256:${'0'.repeat(64)}`;
    const err = await handler(cfnWithDigest(stale), context).catch((e: unknown) => e);
    expect((err as MirrorError).code).toBe('SCORE_TABLE_STALE');
    expect((err as Error).message).toContain(`vendor tag 1.4.0 now points at ${digest}`);
    expect((err as Error).message).toContain(`calibrated on image ${stale}`);
    expect((err as Error).message).toMatch(/compare\.mode "forward" first, then run `npm run calibrate -- --stage <stage>/);
    expect(ecsMock.calls()).toHaveLength(0);
    expect(stdout.join('')).toContain('SCORE_TABLE_STALE');
  });

  it('WHEN the custom resource mirrors the table\'s digest THEN it succeeds as before', async () => {
    const answer = await handler(cfnWithDigest(digest), context);
    expect(answer).toMatchObject({ Data: { ImageDigest: digest } });
  });

  it('WHEN a follow rollout brings a new digest THEN compare is switched to forwarding before the task definition is registered', async () => {
    followService();
    vi.stubEnv('COMPARE_MODE_SECRET_ID', 'compare-mode');
    vi.stubEnv('TABLE_IMAGE_DIGEST', `sha256:${'0'.repeat(64)}`);
    const order: string[] = [];
    let flag: string | undefined;
    secretsMock.on(PutSecretValueCommand).callsFake((input: { SecretString?: string }) => {
      order.push('PutSecretValue');
      flag = input.SecretString;
      return {};
    });
    ecsMock.on(RegisterTaskDefinitionCommand).callsFake(() => {
      order.push('RegisterTaskDefinition');
      return { taskDefinition: { taskDefinitionArn: `${TD_ARN.slice(0, -1)}4` } };
    });
    const answer = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event' }, context);
    expect(answer).toMatchObject({ rolledOut: true });
    expect(order).toEqual(['PutSecretValue', 'RegisterTaskDefinition']);
    expect(parseCompareModeFlag(flag)).toMatchObject({ mode: 'forward', by: 'image-rollout' });
    expect(parseCompareModeFlag(flag).reason).toContain(`follow rollout of ${digest}`);
  });

  it('WHEN the switch cannot be written THEN the service is not moved', async () => {
    followService();
    vi.stubEnv('COMPARE_MODE_SECRET_ID', 'compare-mode');
    vi.stubEnv('TABLE_IMAGE_DIGEST', `sha256:${'0'.repeat(64)}`);
    secretsMock.on(PutSecretValueCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(handler({ source: 'aws.events', 'detail-type': 'Scheduled Event' }, context)).rejects.toThrow();
    expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('WHEN a follow rollout brings the very digest the table was calibrated on THEN compare stays on the table', async () => {
    followService();
    vi.stubEnv('COMPARE_MODE_SECRET_ID', 'compare-mode');
    vi.stubEnv('TABLE_IMAGE_DIGEST', digest);
    expect(await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event' }, context)).toMatchObject({ rolledOut: true });
    expect(secretsMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });
});

describe('classifyEvent', () => {
  it('recognises the three event shapes and refuses others without echoing them', () => {
    expect(classifyEvent(cfnEvent('Update'))).toEqual({ kind: 'custom-resource', requestType: 'Update', physicalResourceId: 'face-verification/vendor-api@sha256:old' });
    expect(classifyEvent({ source: 'aws.scheduler' })).toEqual({ kind: 'scheduled' });
    expect(classifyEvent({ action: 'sync', force: true })).toEqual({ kind: 'sync', force: true });
    expect(() => classifyEvent({ action: 'delete-everything', token: 'abc123secret' })).toThrow(MirrorError);
    expect(() => classifyEvent({ token: 'abc123secret' })).not.toThrow(/abc123secret/);
  });
});
