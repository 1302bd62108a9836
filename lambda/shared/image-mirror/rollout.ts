/**
 * What happens after a mirror run finds a new vendor digest.
 *
 * - `pinned`: nothing changes in ECS. The stack deploys `<repo>@<digest>` from
 *   the custom resource; a newer digest is only reported ("run cdk deploy").
 * - `follow`: the ECS service is moved to the new digest at once: its current
 *   task definition is re-registered with only the container image changed,
 *   and the service updated. The deployment circuit breaker rolls a bad image
 *   back. This drifts from CloudFormation (see the report / README).
 */
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type ECSClient,
  type RegisterTaskDefinitionRequest,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import type { EcsTargetConfig, RolloutMode } from './config.js';
import { mapEcsError, MirrorError } from './errors.js';
import type { MirrorLogger } from './types.js';

/** Inputs for {@link applyRollout}. */
export interface RolloutOptions {
  readonly ecs: ECSClient;
  readonly mode: RolloutMode;
  /** The service to compare with (pinned) or update (follow); optional for pinned. */
  readonly service?: EcsTargetConfig;
  /** `<targetRepositoryUri>@<digest>`. */
  readonly imageUri: string;
  readonly digest: string;
  /** What the target tag pointed at before the mirror run (pinned mode without a service). */
  readonly previousDigest?: string;
  readonly log: MirrorLogger;
  /** Roll out even if this image was rolled out before and rolled back. @default false */
  readonly force?: boolean;
  /**
   * Runs right before a `follow` rollout registers the new task definition; a throw stops the
   * rollout. Table-mode compare uses it to switch compare to forwarding first (see the handler).
   * @default nothing
   */
  readonly beforeRollout?: (digest: string) => Promise<void>;
}

/** Why a rollout did or did not happen. */
export type RolloutOutcome =
  | 'deployed'
  | 'up-to-date'
  | 'pinned'
  | 'deployment-in-progress'
  | 'previously-rolled-back'
  | 'no-service';

/** The result of {@link applyRollout}. */
export interface RolloutResult {
  readonly rolledOut: boolean;
  readonly outcome: RolloutOutcome;
  /** The image the service's task definition used before this call, when a service is configured. */
  readonly deployedImage?: string;
  /** The task definition registered by a `follow` rollout. */
  readonly taskDefinitionArn?: string;
}

/** The `sha256:...` digest an image reference pins, if it pins one. */
export function digestOfImage(image: string | undefined): string | undefined {
  return /@(sha256:[a-f0-9]{64})$/.exec(image ?? '')?.[1];
}

// Fields of DescribeTaskDefinition's answer that RegisterTaskDefinition accepts back.
const COPIED_FIELDS = [
  'family',
  'taskRoleArn',
  'executionRoleArn',
  'networkMode',
  'volumes',
  'placementConstraints',
  'requiresCompatibilities',
  'cpu',
  'memory',
  'pidMode',
  'ipcMode',
  'proxyConfiguration',
  'inferenceAccelerators',
  'ephemeralStorage',
  'runtimePlatform',
  'enableFaultInjection',
] as const satisfies ReadonlyArray<keyof TaskDefinition & keyof RegisterTaskDefinitionRequest>;

/**
 * A RegisterTaskDefinition request identical to `td` except for the image of
 * `containerName`. Read-only fields (ARN, revision, status, timestamps) are dropped.
 */
export function taskDefinitionWithImage(
  td: TaskDefinition,
  containerName: string,
  image: string,
  tags?: RegisterTaskDefinitionRequest['tags'],
): RegisterTaskDefinitionRequest {
  const request: Record<string, unknown> = {};
  for (const field of COPIED_FIELDS) if (td[field] !== undefined) request[field] = td[field];
  request.containerDefinitions = (td.containerDefinitions ?? []).map((c) => (c.name === containerName ? { ...c, image } : c));
  if (tags && tags.length > 0) request.tags = tags;
  return request as unknown as RegisterTaskDefinitionRequest;
}

/**
 * Compares the mirrored digest with what the ECS service runs and, in `follow`
 * mode, deploys it. Never runs during a CloudFormation deployment (the handler
 * calls it only for scheduled and on-demand syncs).
 * @throws MirrorError ECS_SERVICE_NOT_FOUND or ROLLOUT_FAILED.
 */
export async function applyRollout(options: RolloutOptions): Promise<RolloutResult> {
  const { ecs, mode, service: svc, imageUri, digest, log } = options;
  if (!svc) {
    if (mode === 'follow') throw new MirrorError('CONFIG_INVALID', 'ROLLOUT_MODE=follow needs ECS_CLUSTER, ECS_SERVICE and CONTAINER_NAME');
    if (options.previousDigest && options.previousDigest !== digest) {
      log.info('new vendor digest available; run cdk deploy', { digest, previousDigest: options.previousDigest, imageUri });
    }
    return { rolledOut: false, outcome: 'no-service' };
  }
  const ctx = { cluster: svc.cluster, service: svc.service };
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw mapEcsError(err, ctx);
    }
  };

  const described = await call(() => ecs.send(new DescribeServicesCommand({ cluster: svc.cluster, services: [svc.service] })));
  const service = described.services?.find((s) => s.status === 'ACTIVE');
  if (!service?.taskDefinition) throw mapEcsError({ name: 'ServiceNotFoundException', $metadata: {} }, ctx);
  const current = await call(() => ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition, include: ['TAGS'] })));
  const td = current.taskDefinition;
  const container = td?.containerDefinitions?.find((c) => c.name === svc.containerName);
  if (!td || !container) {
    throw new MirrorError(
      'ROLLOUT_FAILED',
      `container ${svc.containerName} is not in task definition ${service.taskDefinition} of ECS service ${svc.service}; check CONTAINER_NAME`,
    );
  }
  const deployedImage = container.image;
  if (deployedImage === imageUri) return { rolledOut: false, outcome: 'up-to-date', ...(deployedImage ? { deployedImage } : {}) };

  if (mode === 'pinned') {
    if (digestOfImage(deployedImage) !== digest) {
      log.info('new vendor digest available; run cdk deploy', { digest, deployedImage, imageUri });
    }
    return { rolledOut: false, outcome: 'pinned', ...(deployedImage ? { deployedImage } : {}) };
  }

  if (service.deployments?.some((d) => d.rolloutState === 'IN_PROGRESS')) {
    log.info('ECS deployment in progress; rollout left for the next run', { ecsService: svc.service, digest });
    return { rolledOut: false, outcome: 'deployment-in-progress', ...(deployedImage ? { deployedImage } : {}) };
  }

  // A newer revision than the running one that already carries this image means
  // we deployed it before and the circuit breaker rolled it back: do not loop.
  if (!options.force && td.family) {
    const latest = await call(() => ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: td.family, sort: 'DESC', maxResults: 1 })));
    const latestArn = latest.taskDefinitionArns?.[0];
    if (latestArn && latestArn !== td.taskDefinitionArn) {
      const latestTd = await call(() => ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: latestArn })));
      if (latestTd.taskDefinition?.containerDefinitions?.find((c) => c.name === svc.containerName)?.image === imageUri) {
        log.warn('this image was rolled out before and rolled back; not retrying (invoke with {"action":"sync","force":true} to retry)', {
          digest,
          taskDefinition: latestArn,
        });
        return { rolledOut: false, outcome: 'previously-rolled-back', ...(deployedImage ? { deployedImage } : {}) };
      }
    }
  }

  await options.beforeRollout?.(digest);
  const registered = await call(() => ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionWithImage(td, svc.containerName, imageUri, current.tags))));
  const taskDefinitionArn = registered.taskDefinition?.taskDefinitionArn;
  if (!taskDefinitionArn) throw new MirrorError('ROLLOUT_FAILED', 'RegisterTaskDefinition returned no task definition ARN');
  await call(() => ecs.send(new UpdateServiceCommand({ cluster: svc.cluster, service: svc.service, taskDefinition: taskDefinitionArn })));
  log.info('new vendor image rolled out to ECS', { ecsService: svc.service, digest, taskDefinition: taskDefinitionArn, previousImage: deployedImage });
  return { rolledOut: true, outcome: 'deployed', taskDefinitionArn, ...(deployedImage ? { deployedImage } : {}) };
}
