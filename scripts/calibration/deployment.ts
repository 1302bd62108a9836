/**
 * Reads what a deployed stage runs, for `npm run calibrate -- --stage <stage>` and
 * `npm run compare-mode`: the API URL and the ECS service from `cdk deploy --outputs-file`
 * (cdk-outputs.json), and the image digest of the service's running tasks from the ECS API.
 * The vendor container does not report its own image (vendor guide: no version endpoint),
 * so the digest comes from ECS, never typed by hand.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DescribeTasksCommand, ListTasksCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { stackNames } from '../../lib/app.js';
import { CONTAINER_NAME } from '../../lib/constructs/service.js';

/** What the outputs file says about a stage. */
export interface StageOutputs {
  readonly apiUrl?: string;
  readonly cluster: string;
  readonly service: string;
  readonly compareCheckFunctionName?: string;
}

/**
 * Reads a stage's outputs from `cdk deploy --outputs-file` (`npm run deploy` writes cdk-outputs.json).
 * @throws Error naming the file and the missing output
 */
export function readStageOutputs(stage: string, outputsFile = 'cdk-outputs.json', cwd = process.cwd()): StageOutputs {
  const file = resolve(cwd, outputsFile);
  if (!existsSync(file)) throw new Error(`${outputsFile} not found: run npm run deploy (it writes the outputs file) or pass --outputs <file>`);
  let outputs: Record<string, Record<string, unknown>>;
  try {
    outputs = JSON.parse(readFileSync(file, 'utf8')) as typeof outputs;
  } catch {
    throw new Error(`${outputsFile} is not valid JSON`);
  }
  const names = stackNames(stage);
  const service = outputs[names.service] ?? {};
  const api = outputs[names.api] ?? {};
  const text = (value: unknown) => (typeof value === 'string' && value ? value : undefined);
  const cluster = text(service.ClusterName);
  const serviceName = text(service.ServiceName);
  if (!cluster || !serviceName) throw new Error(`${outputsFile} has no ClusterName/ServiceName output for stack ${names.service}`);
  return {
    cluster,
    service: serviceName,
    ...(text(api.ApiUrl) ? { apiUrl: text(api.ApiUrl)! } : {}),
    ...(text(api.CompareCheckFunctionName) ? { compareCheckFunctionName: text(api.CompareCheckFunctionName)! } : {}),
  };
}

/**
 * The one image digest the service's running tasks run.
 *
 * The digest the task definition pins (`<repo>@sha256:...`, as the mirror deploys it) wins
 * over the container's reported `imageDigest`: for a multi-platform image the task definition
 * names the index, which is what the mirror's deploy-time check compares, while a task may
 * report the platform manifest. A tag-only image (pull-through, external by tag) falls back to
 * the reported digest ECS resolved the tag to (ECS API reference, ContainerImage / Container.imageDigest).
 * @throws Error when no task runs, or the tasks run different images (a deployment in progress)
 */
export async function runningImageDigest(ecs: ECSClient, target: { cluster: string; service: string; containerName?: string }): Promise<{ digest: string; tasks: number }> {
  const containerName = target.containerName ?? CONTAINER_NAME;
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ecs.send(new ListTasksCommand({ cluster: target.cluster, serviceName: target.service, desiredStatus: 'RUNNING', ...(nextToken ? { nextToken } : {}) }));
    arns.push(...(page.taskArns ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  if (arns.length === 0) throw new Error(`ECS service ${target.service} has no running task: nothing to read the image digest from`);
  const digests = new Set<string>();
  // DescribeTasks takes at most 100 tasks per call (ECS API reference).
  for (let i = 0; i < arns.length; i += 100) {
    const described = await ecs.send(new DescribeTasksCommand({ cluster: target.cluster, tasks: arns.slice(i, i + 100) }));
    for (const task of described.tasks ?? []) {
      if (task.lastStatus !== 'RUNNING') continue;
      const container = task.containers?.find((c) => c.name === containerName);
      const digest = /@(sha256:[a-f0-9]{64})$/.exec(container?.image ?? '')?.[1] ?? container?.imageDigest;
      if (digest) digests.add(digest);
    }
  }
  if (digests.size === 0) throw new Error(`no running task of ${target.service} reports an image digest for container ${containerName}`);
  if (digests.size > 1) throw new Error(`the tasks of ${target.service} run ${digests.size} different images (${[...digests].join(', ')}): wait until the deployment completes`);
  return { digest: [...digests][0]!, tasks: arns.length };
}
