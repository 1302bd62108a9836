/**
 * Rollout modes against a mocked ECS API: `follow` registers a task definition
 * identical but for the image and updates the service; `pinned` never does.
 */
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  ServiceNotFoundException,
  UpdateServiceCommand,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { MirrorError } from '../../../lambda/shared/image-mirror/errors.js';
import { applyRollout, digestOfImage, type RolloutOptions } from '../../../lambda/shared/image-mirror/rollout.js';
import type { MirrorLogger } from '../../../lambda/shared/image-mirror/types.js';

const ecsMock = mockClient(ECSClient);
const REPO = '111122223333.dkr.ecr.eu-central-1.amazonaws.com/face-verification/vendor-api';
const OLD = `sha256:${'a'.repeat(64)}`;
const NEW = `sha256:${'b'.repeat(64)}`;
const CURRENT_ARN = 'arn:aws:ecs:eu-central-1:111122223333:task-definition/face-api:7';
const NEW_ARN = 'arn:aws:ecs:eu-central-1:111122223333:task-definition/face-api:8';

const currentTd: TaskDefinition = {
  taskDefinitionArn: CURRENT_ARN,
  family: 'face-api',
  revision: 7,
  status: 'ACTIVE',
  taskRoleArn: 'arn:aws:iam::111122223333:role/task',
  executionRoleArn: 'arn:aws:iam::111122223333:role/exec',
  networkMode: 'awsvpc',
  requiresCompatibilities: ['FARGATE'],
  compatibilities: ['EC2', 'FARGATE'],
  cpu: '4096',
  memory: '16384',
  runtimePlatform: { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' },
  requiresAttributes: [{ name: 'com.amazonaws.ecs.capability.ecr-auth' }],
  registeredAt: new Date('2026-11-01T00:00:00Z'),
  registeredBy: 'arn:aws:sts::111122223333:assumed-role/cfn',
  containerDefinitions: [
    {
      name: 'api',
      image: `${REPO}@${OLD}`,
      memory: 16384,
      readonlyRootFilesystem: true,
      portMappings: [{ containerPort: 8080 }],
      secrets: [{ name: 'ACTIVATION_KEY', valueFrom: 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:activation' }],
    },
    { name: 'log-router', image: 'public.ecr.aws/aws-observability/aws-for-fluent-bit:stable' },
  ],
};

function logRecorder(): { log: MirrorLogger; messages: string[] } {
  const messages: string[] = [];
  const at = (message: string) => void messages.push(message);
  return { messages, log: { debug: at, info: at, warn: at, error: at } };
}

function opts(overrides: Partial<RolloutOptions> = {}): RolloutOptions {
  return {
    ecs: new ECSClient({ region: 'eu-central-1' }),
    mode: 'follow',
    service: { cluster: 'face', service: 'face-api', containerName: 'api' },
    imageUri: `${REPO}@${NEW}`,
    digest: NEW,
    log: logRecorder().log,
    ...overrides,
  };
}

beforeEach(() => {
  ecsMock.reset();
  ecsMock.on(DescribeServicesCommand).resolves({
    services: [{ serviceName: 'face-api', status: 'ACTIVE', taskDefinition: CURRENT_ARN, deployments: [{ status: 'PRIMARY', rolloutState: 'COMPLETED', taskDefinition: CURRENT_ARN }] }],
  });
  ecsMock.on(DescribeTaskDefinitionCommand, { taskDefinition: CURRENT_ARN }).resolves({ taskDefinition: currentTd, tags: [{ key: 'app', value: 'face' }] });
  ecsMock.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [CURRENT_ARN] });
  ecsMock.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: NEW_ARN } });
  ecsMock.on(UpdateServiceCommand).resolves({});
});

describe('GIVEN ROLLOUT_MODE=follow and a new digest', () => {
  it('WHEN applied THEN a task definition identical but for the image is registered and the service is updated to it', async () => {
    const result = await applyRollout(opts());
    expect(result).toMatchObject({ rolledOut: true, outcome: 'deployed', taskDefinitionArn: NEW_ARN, deployedImage: `${REPO}@${OLD}` });

    const registered = ecsMock.commandCalls(RegisterTaskDefinitionCommand);
    expect(registered).toHaveLength(1);
    const input = registered[0]!.args[0].input;
    expect(input.containerDefinitions?.[0]).toEqual({ ...currentTd.containerDefinitions![0], image: `${REPO}@${NEW}` });
    expect(input.containerDefinitions?.[1]).toEqual(currentTd.containerDefinitions![1]);
    expect(input).toMatchObject({
      family: 'face-api',
      taskRoleArn: currentTd.taskRoleArn,
      executionRoleArn: currentTd.executionRoleArn,
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '4096',
      memory: '16384',
      runtimePlatform: currentTd.runtimePlatform,
      tags: [{ key: 'app', value: 'face' }],
    });
    for (const readOnly of ['taskDefinitionArn', 'revision', 'status', 'compatibilities', 'requiresAttributes', 'registeredAt', 'registeredBy']) {
      expect(input).not.toHaveProperty(readOnly);
    }
    const updates = ecsMock.commandCalls(UpdateServiceCommand);
    expect(updates).toHaveLength(1);
    expect(updates[0]!.args[0].input).toEqual({ cluster: 'face', service: 'face-api', taskDefinition: NEW_ARN });
  });

  it('WHEN the service already runs the digest THEN nothing is registered', async () => {
    const result = await applyRollout(opts({ imageUri: `${REPO}@${OLD}`, digest: OLD }));
    expect(result).toMatchObject({ rolledOut: false, outcome: 'up-to-date' });
    expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('WHEN a deployment is in progress THEN the rollout waits for the next run', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({
      services: [{ status: 'ACTIVE', taskDefinition: CURRENT_ARN, deployments: [{ status: 'PRIMARY', rolloutState: 'IN_PROGRESS' }] }],
    });
    const result = await applyRollout(opts());
    expect(result).toMatchObject({ rolledOut: false, outcome: 'deployment-in-progress' });
    expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
  });

  it('WHEN this image was deployed before and rolled back THEN it is not retried, unless forced', async () => {
    ecsMock.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [NEW_ARN] });
    ecsMock.on(DescribeTaskDefinitionCommand, { taskDefinition: NEW_ARN }).resolves({
      taskDefinition: { ...currentTd, taskDefinitionArn: NEW_ARN, containerDefinitions: [{ name: 'api', image: `${REPO}@${NEW}` }] },
    });
    const rec = logRecorder();
    const skipped = await applyRollout(opts({ log: rec.log }));
    expect(skipped).toMatchObject({ rolledOut: false, outcome: 'previously-rolled-back' });
    expect(rec.messages.some((m) => m.includes('rolled back; not retrying'))).toBe(true);
    expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);

    const forced = await applyRollout(opts({ force: true }));
    expect(forced.rolledOut).toBe(true);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(1);
  });

  it('WHEN the container name is wrong THEN ROLLOUT_FAILED names CONTAINER_NAME', async () => {
    const err = await applyRollout(opts({ service: { cluster: 'face', service: 'face-api', containerName: 'nope' } })).catch((e: unknown) => e);
    expect((err as MirrorError).code).toBe('ROLLOUT_FAILED');
    expect((err as Error).message).toContain('CONTAINER_NAME');
  });

  it('WHEN the service does not exist THEN ECS_SERVICE_NOT_FOUND names cluster and service', async () => {
    ecsMock.on(DescribeServicesCommand).rejects(new ServiceNotFoundException({ message: 'Service not found.', $metadata: {} }));
    const err = await applyRollout(opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MirrorError);
    expect((err as MirrorError).code).toBe('ECS_SERVICE_NOT_FOUND');
    expect((err as Error).message).toContain('face-api in cluster face');
  });
});

describe('GIVEN ROLLOUT_MODE=pinned', () => {
  it('WHEN the vendor digest differs from the running one THEN it is reported and ECS is left alone', async () => {
    const rec = logRecorder();
    const result = await applyRollout(opts({ mode: 'pinned', log: rec.log }));
    expect(result).toMatchObject({ rolledOut: false, outcome: 'pinned', deployedImage: `${REPO}@${OLD}` });
    expect(rec.messages).toContain('new vendor digest available; run cdk deploy');
    expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('WHEN no service is configured THEN the previous tag digest decides whether to report, and ECS is not called', async () => {
    const rec = logRecorder();
    const changed = await applyRollout(opts({ mode: 'pinned', service: undefined, previousDigest: OLD, log: rec.log }));
    expect(changed).toEqual({ rolledOut: false, outcome: 'no-service' });
    expect(rec.messages).toEqual(['new vendor digest available; run cdk deploy']);
    const rec2 = logRecorder();
    await applyRollout(opts({ mode: 'pinned', service: undefined, previousDigest: NEW, log: rec2.log }));
    expect(rec2.messages).toEqual([]);
    expect(ecsMock.calls()).toHaveLength(0);
  });
});

describe('digestOfImage', () => {
  it('returns the pinned digest of an image reference, or undefined for a tag', () => {
    expect(digestOfImage(`${REPO}@${NEW}`)).toBe(NEW);
    expect(digestOfImage(`${REPO}:1.4.0`)).toBeUndefined();
    expect(digestOfImage(undefined)).toBeUndefined();
  });
});
