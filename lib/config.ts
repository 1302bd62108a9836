/**
 * The deployment's configuration: one zod schema, parsed once in `bin/` from
 * `cdk.json` context (key `faceVerification`) merged with an optional
 * `config/<stage>.json`, then handed down as typed props. A bad value fails
 * synth with a message naming the field (e.g. `compute.cpu: ...`).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DEFAULT_CLIENT_CLAIM, DEFAULT_MAX_TOKEN_LIFETIME_SECONDS } from '../lambda/shared/authorizer.js';
import { originProblem } from '../lambda/shared/cors.js';
import { deployableAllowCidrProblems } from '../lambda/shared/image-fetch/address-policy.js';
import { DEFAULT_IMAGE_FETCH_CONFIG, MAX_IMAGE_BYTES_LIMIT } from '../lambda/shared/image-fetch/fetch-image.js';
import { deployableTableProblem, loadScoreTable, staleTableMessage, tableImageDigest } from '../lambda/shared/score-table.js';

/** The vendor's registry and repository, from the vendor guide's `docker pull` line. */
export const VENDOR_REGISTRY = '249265253269.dkr.ecr.eu-west-1.amazonaws.com';
export const VENDOR_REPOSITORY = 'verifeye/face-verification-api';

/** The container's hard memory limit: the guide's `--memory=16G`. */
export const CONTAINER_MEMORY_LIMIT_MIB = 16_384;

/** Size of each tmpfs scratch mount on EC2 GPU instances (MiB); tmpfs pages count against the instance's memory. */
export const TMPFS_SIZE_MIB = 1024;

/**
 * Memory (MiB) a GPU container instance keeps for the OS, Docker, the NVIDIA driver and the ECS agent.
 * ECS registers less memory than the instance type's nominal size (ECS developer guide, "Container
 * instance memory management", memory-management.html); 2 GiB is a conservative margin.
 */
export const GPU_INSTANCE_RESERVED_MIB = 2048;

/** The service's deployment maximumPercent: new tasks start before old ones stop (minimumHealthyPercent 100). */
export const DEPLOYMENT_MAX_HEALTHY_PERCENT = 200;

/**
 * x86_64 NVIDIA GPU instance types: memory (GiB) and GPUs, from the EC2 documentation's
 * "Accelerated computing instance specifications" (docs.aws.amazon.com/ec2/latest/instancetypes/ac.html).
 * A type missing here is refused: add it with its figures from that page.
 */
export const GPU_INSTANCE_TYPES: Readonly<Record<string, { readonly memoryGiB: number; readonly gpus: number }>> = {
  'g4dn.xlarge': { memoryGiB: 16, gpus: 1 },
  'g4dn.2xlarge': { memoryGiB: 32, gpus: 1 },
  'g4dn.4xlarge': { memoryGiB: 64, gpus: 1 },
  'g4dn.8xlarge': { memoryGiB: 128, gpus: 1 },
  'g4dn.12xlarge': { memoryGiB: 192, gpus: 4 },
  'g4dn.16xlarge': { memoryGiB: 256, gpus: 1 },
  'g4dn.metal': { memoryGiB: 384, gpus: 8 },
  'g5.xlarge': { memoryGiB: 16, gpus: 1 },
  'g5.2xlarge': { memoryGiB: 32, gpus: 1 },
  'g5.4xlarge': { memoryGiB: 64, gpus: 1 },
  'g5.8xlarge': { memoryGiB: 128, gpus: 1 },
  'g5.12xlarge': { memoryGiB: 192, gpus: 4 },
  'g5.16xlarge': { memoryGiB: 256, gpus: 1 },
  'g5.24xlarge': { memoryGiB: 384, gpus: 4 },
  'g5.48xlarge': { memoryGiB: 768, gpus: 8 },
  'g6.xlarge': { memoryGiB: 16, gpus: 1 },
  'g6.2xlarge': { memoryGiB: 32, gpus: 1 },
  'g6.4xlarge': { memoryGiB: 64, gpus: 1 },
  'g6.8xlarge': { memoryGiB: 128, gpus: 1 },
  'g6.12xlarge': { memoryGiB: 192, gpus: 4 },
  'g6.16xlarge': { memoryGiB: 256, gpus: 1 },
  'g6.24xlarge': { memoryGiB: 384, gpus: 4 },
  'g6.48xlarge': { memoryGiB: 768, gpus: 8 },
  'g6e.xlarge': { memoryGiB: 32, gpus: 1 },
  'g6e.2xlarge': { memoryGiB: 64, gpus: 1 },
  'g6e.4xlarge': { memoryGiB: 128, gpus: 1 },
  'g6e.8xlarge': { memoryGiB: 256, gpus: 1 },
  'g6e.12xlarge': { memoryGiB: 384, gpus: 4 },
  'g6e.16xlarge': { memoryGiB: 512, gpus: 1 },
  'g6e.24xlarge': { memoryGiB: 768, gpus: 4 },
  'g6e.48xlarge': { memoryGiB: 1536, gpus: 8 },
  'gr6.4xlarge': { memoryGiB: 128, gpus: 1 },
  'gr6.8xlarge': { memoryGiB: 256, gpus: 1 },
  'p3.2xlarge': { memoryGiB: 61, gpus: 1 },
  'p3.8xlarge': { memoryGiB: 244, gpus: 4 },
  'p3.16xlarge': { memoryGiB: 488, gpus: 8 },
  'p3dn.24xlarge': { memoryGiB: 768, gpus: 8 },
  'p4d.24xlarge': { memoryGiB: 1152, gpus: 8 },
  'p4de.24xlarge': { memoryGiB: 1152, gpus: 8 },
  'p5.48xlarge': { memoryGiB: 2048, gpus: 8 },
  'p5e.48xlarge': { memoryGiB: 2048, gpus: 8 },
  'p5en.48xlarge': { memoryGiB: 2048, gpus: 8 },
};

/** Memory one task needs on a GPU instance: the 16 GiB hard limit plus its tmpfs scratch mounts (MiB). */
export function gpuTaskMemoryMiB(scratchPaths: number): number {
  return CONTAINER_MEMORY_LIMIT_MIB + scratchPaths * TMPFS_SIZE_MIB;
}

/**
 * How many tasks (one GPU each) an instance type holds: limited by its GPUs and by its memory after
 * {@link GPU_INSTANCE_RESERVED_MIB}; 0 when the type is unknown or cannot hold one task.
 */
export function gpuTasksPerInstance(instanceType: string, scratchPaths: number): number {
  const spec = GPU_INSTANCE_TYPES[instanceType];
  if (!spec) return 0;
  return Math.min(spec.gpus, Math.floor((spec.memoryGiB * 1024 - GPU_INSTANCE_RESERVED_MIB) / gpuTaskMemoryMiB(scratchPaths)));
}

/** Linux capabilities a container definition may drop (ECS API reference, KernelCapabilities). */
export const LINUX_CAPABILITIES = [
  'AUDIT_CONTROL', 'AUDIT_WRITE', 'BLOCK_SUSPEND', 'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'IPC_LOCK',
  'IPC_OWNER', 'KILL', 'LEASE', 'LINUX_IMMUTABLE', 'MAC_ADMIN', 'MAC_OVERRIDE', 'MKNOD', 'NET_ADMIN', 'NET_BIND_SERVICE',
  'NET_BROADCAST', 'NET_RAW', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_CHROOT', 'SYS_MODULE',
  'SYS_NICE', 'SYS_PACCT', 'SYS_PTRACE', 'SYS_RAWIO', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'SYSLOG', 'WAKE_ALARM',
] as const;

/**
 * Fargate's valid task cpu/memory pairs (MiB), from the ECS developer guide's
 * "Task CPU and memory" table; only the sizes that hold the 16 GiB container.
 */
export const FARGATE_MEMORY_BY_CPU: Readonly<Record<number, { min: number; max: number; step: number }>> = {
  2048: { min: 4096, max: 16_384, step: 1024 },
  4096: { min: 8192, max: 30_720, step: 1024 },
  8192: { min: 16_384, max: 61_440, step: 4096 },
  16384: { min: 32_768, max: 122_880, step: 8192 },
};

/** CloudWatch Logs' allowed retention values (PutRetentionPolicy API reference). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

// ECR private image URI: <account>.dkr.ecr.<region>.amazonaws.com/<repo>(:tag|@sha256:digest)
const ECR_IMAGE_URI = /^(\d{12})\.dkr\.ecr\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?\/([a-z0-9]+(?:[._/-][a-z0-9]+)*)(?::[\w][\w.-]{0,127}|@sha256:[a-f0-9]{64})$/;
const ECR_REGISTRY_HOST = /^\d{12}\.dkr\.ecr\.[a-z]{2}(?:-[a-z]+)+-\d\.amazonaws\.com(?:\.cn)?$/;
const REPOSITORY_NAME = /^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const IMAGE_TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;
const CERTIFICATE_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/.+$/;
// Secrets Manager secret names: 1-512 characters of letters, digits and /_+=.@-
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
// GPU instance families an x86_64 image can run on (g5g is Graviton: excluded).
const GPU_INSTANCE_TYPE = /^(g4dn|g5|g6|g6e|gr6|p3|p3dn|p4d|p4de|p5|p5e|p5en)\.[0-9]*x?large$|^(g4dn|g5|g6|g6e|gr6|p3|p3dn|p4d|p4de|p5|p5e|p5en)\.metal$/;

/** Why `compute.warmPool.reuseOnScaleIn` is refused (the ECS developer guide's warm pool page). */
export const WARM_POOL_REUSE_REFUSED =
  'cannot be set: ECS does not support ReuseOnScaleIn on the warm pool of an Auto Scaling group it scales (ECS developer guide, "Configuring pre-initialized instances for your Amazon ECS Auto Scaling group", docs.aws.amazon.com/AmazonECS/latest/developerguide/using-warm-pool.html); remove the field';

/** The project root (the directory holding cdk.json). */
export const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** A Secrets Manager secret the app either creates (to be filled in) or imports by name or ARN. */
const SecretRefSchema = z
  .union([
    z.object({ create: z.literal(true), name: z.string().regex(SECRET_NAME, 'must be a Secrets Manager secret name (letters, digits, /_+=.@-)').optional() }).strict(),
    z.object({ secretArn: z.string().regex(SECRET_ARN, 'must be a Secrets Manager secret ARN') }).strict(),
    z.object({ secretName: z.string().regex(SECRET_NAME, 'must be a Secrets Manager secret name (letters, digits, /_+=.@-)') }).strict(),
  ], { error: 'must be { "create": true, "name"?: <name> }, { "secretArn": <arn> } or { "secretName": <name> }' });

const ThrottleSchema = z
  .object({
    rateLimit: z.number().positive().max(10_000).describe('Steady-state requests per second.'),
    burstLimit: int(1, 5000).describe('Burst bucket size.'),
  })
  .strict();

const QuotaSchema = z
  .object({
    limit: int(1, 1_000_000_000).describe('Requests allowed per period.'),
    period: z.enum(['DAY', 'WEEK', 'MONTH']).describe('The quota period.'),
  })
  .strict();

const ClientSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be 1-32 lower-case letters, digits or dashes, starting with a letter').describe('Client name: becomes part of the API key\'s name and output keys.'),
    throttle: ThrottleSchema.optional().describe('This client\'s throttle (default: api.throttle).'),
    quota: QuotaSchema.optional().describe('This client\'s quota (default: api.quota).'),
  })
  .strict();

/**
 * At most 25 configured Bearer clients: their claim values travel to the authorizer in one
 * environment variable, and Lambda allows 4 KB of environment in all (Lambda quotas).
 */
export const MAX_BEARER_CLIENTS = 25;

const BearerClientSchema = z
  .object({
    /** Client name: part of the usage plan's name and of the client's usage key. */
    name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be 1-32 lower-case letters, digits or dashes, starting with a letter'),
    /** The value of the client claim (`jwt.clientClaim`) in this client's tokens. */
    claimValue: z.string().min(1).max(64),
    throttle: ThrottleSchema.optional(),
    quota: QuotaSchema.optional(),
  })
  .strict();

/**
 * Longest authorizer cache TTL with Bearer tokens: API Gateway keeps an Allow for the
 * whole TTL, so a token can be used up to this long after its `exp`.
 */
export const MAX_JWT_AUTHORIZER_CACHE_TTL_SECONDS = 60;

const ImageSupplySchema = z.discriminatedUnion('mode', [
  z
    .object({
      mode: z.literal('mirror').describe('Copy the vendor\'s image into an ECR repository of this account with the image-mirror function.'),
      vendorCredentials: SecretRefSchema.prefault({ create: true }).describe('The vendor\'s access key pair as `{"accessKeyId","secretAccessKey"}`.'),
      schedule: z.string().regex(/^(rate|cron)\(.+\)$/, 'must be an EventBridge schedule expression such as "rate(1 day)"').default('rate(1 day)').describe('EventBridge schedule expression for re-mirroring.'),
      rollout: z.enum(['pinned', 'follow']).default('pinned').describe('pinned: a new vendor digest waits for the next `cdk deploy`; follow: the scheduled run rolls the service.'),
      keepImages: int(1, 1000).default(10).describe('Images kept in the mirror repository.'),
    })
    .strict(),
  z
    .object({
      mode: z.literal('pull-through').describe('ECR pull-through cache from the vendor\'s registry (needs the vendor to grant this account).'),
      repositoryPrefix: z.string().regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, 'must be a lower-case ECR repository prefix').min(2).max(30).default('vendor-cache').describe('ECR repository prefix of the cache.'),
      keepImages: int(1, 1000).default(10).describe('Images kept in the cache repository.'),
    })
    .strict(),
  z
    .object({
      mode: z.literal('external').describe('Any ECR image URI the operator supplies (same region: the VPC has no internet route).'),
      imageUri: z.string().regex(ECR_IMAGE_URI, 'must be an ECR image URI <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> or @sha256:<digest>').describe('The image to run (ECR, same region as the deployment).'),
    })
    .strict(),
], { error: 'must be "mirror", "pull-through" or "external"' });

const ComputeSchema = z.discriminatedUnion('mode', [
  z
    .object({
      mode: z.literal('fargate').describe('AWS Fargate tasks (CPU only).'),
      cpu: z.union([z.literal(2048), z.literal(4096), z.literal(8192), z.literal(16384)]).default(4096).describe('Task CPU units (2048, 4096, 8192 or 16384: sizes whose memory can hold the 16 GiB container).'),
      memoryMiB: z.number().int().min(CONTAINER_MEMORY_LIMIT_MIB, `must be at least ${CONTAINER_MEMORY_LIMIT_MIB} (the container's 16 GiB hard memory limit)`).max(122_880).default(16_384).describe('Task memory in MiB; at least 16384 (the container\'s hard limit).'),
      /**
       * Fargate platform version. LATEST (today 1.4.0 for Linux, ECS developer guide "Fargate Linux
       * platform versions") is what Control Tower control CT.ECS.PR.1 requires; "1.4.0" pins it.
       */
      platformVersion: z.enum(['LATEST', '1.4.0']).default('LATEST').describe('Fargate platform version: LATEST (what Control Tower control CT.ECS.PR.1 requires) or "1.4.0" to pin it.'),
      ephemeralStorageGiB: int(21, 200).default(30).describe('Fargate ephemeral storage in GiB (21-200); image layers are unpacked there.'),
    })
    .strict()
    .superRefine((value, ctx) => {
      const range = FARGATE_MEMORY_BY_CPU[value.cpu]!;
      const ok = value.memoryMiB >= range.min && value.memoryMiB <= range.max && (value.memoryMiB - range.min) % range.step === 0;
      if (!ok && value.memoryMiB >= CONTAINER_MEMORY_LIMIT_MIB) {
        const low = Math.max(range.min, CONTAINER_MEMORY_LIMIT_MIB);
        ctx.addIssue({
          code: 'custom',
          path: ['memoryMiB'],
          message: `${value.memoryMiB} is not a Fargate memory size for cpu ${value.cpu}: use ${low}-${range.max} MiB in steps of ${range.step}`,
        });
      }
    }),
  z
    .object({
      mode: z.literal('ec2-gpu').describe('EC2 GPU instances in an Auto Scaling group (ECS capacity provider).'),
      /**
       * A GPU instance type of an x86_64 family (g4dn, g5, g6, g6e, gr6, p3, p4d, p5...) listed in
       * {@link GPU_INSTANCE_TYPES} whose memory holds the task: 32 GiB or more (a 16 GiB g5.xlarge cannot hold
       * the 16 GiB container plus tmpfs plus the OS and agent). @default g5.2xlarge
       */
      instanceType: z
        .string()
        .regex(GPU_INSTANCE_TYPE, 'must be an x86_64 GPU instance type such as g5.2xlarge or g6.2xlarge')
        .default('g5.2xlarge')
        .describe('A GPU instance type of an x86_64 family whose memory holds the 16 GiB container plus tmpfs plus the OS and agent (32 GiB or more, e.g. g5.2xlarge, g6.2xlarge); see docs/gpu.md.'),
      minInstances: int(0, 100).default(1).describe('Fewest running instances.'),
      /**
       * Upper bound of the Auto Scaling group. Must hold a deployment at tasks.max: ECS starts the new tasks
       * before stopping the old (maximumPercent 200), so 2 x tasks.max tasks run for a moment. @default 8
       */
      maxInstances: int(1, 100).default(8).describe('Most running instances; must hold a deployment at tasks.max (2 x tasks.max tasks for a moment).'),
      warmPool: z
        .object({
          minSize: int(0, 100).default(1).describe('Stopped instances kept ready.'),
          // ECS developer guide, "Configuring pre-initialized instances for your Amazon ECS Auto Scaling group"
          // (using-warm-pool.html): ReuseOnScaleIn cannot be set on a warm pool of an ECS Auto Scaling group.
          reuseOnScaleIn: z
            .never({ error: WARM_POOL_REUSE_REFUSED })
            .optional()
            .describe('Not allowed: ECS Auto Scaling groups cannot reuse instances on scale-in (using-warm-pool.html).'),
        })
        .strict()
        .optional()
        .describe('A warm pool of stopped, pre-initialised instances for faster scale-out.'),
      rootVolumeGiB: int(30, 1000).default(100).describe('Root EBS volume (gp3, encrypted) in GiB: the image and the GPU drivers live there.'),
      /**
       * Soft memory reservation used for placement (MiB). The instance type must hold the full 16 GiB hard
       * limit anyway (the schema checks it), so the default reserves all of it: placement never packs more
       * tasks on an instance than its memory can hold. @default 16384
       */
      memoryReservationMiB: int(1024, 16_384).default(16_384).describe('Soft memory reservation used for placement (MiB); the default reserves the whole 16 GiB hard limit.'),
    })
    .strict()
    .superRefine((value, ctx) => {
      if (value.maxInstances < value.minInstances) {
        ctx.addIssue({ code: 'custom', path: ['maxInstances'], message: `must be at least minInstances (${value.minInstances})` });
      }
      if (GPU_INSTANCE_TYPE.test(value.instanceType) && !GPU_INSTANCE_TYPES[value.instanceType]) {
        ctx.addIssue({
          code: 'custom',
          path: ['instanceType'],
          message: `${value.instanceType} is not in the GPU instance table (lib/config.ts GPU_INSTANCE_TYPES, from docs.aws.amazon.com/ec2/latest/instancetypes/ac.html): add its memory and GPUs there, or use e.g. g5.2xlarge or g6.2xlarge`,
        });
      }
    }),
  z
    .object({
      /**
       * ECS Managed Instances with NVIDIA GPUs: AWS picks, launches, patches and replaces the instances
       * (ECS developer guide, "Amazon ECS Managed Instances"). See docs/gpu.md for what this path cannot do.
       */
      mode: z.literal('managed-gpu'),
      /**
       * Instance types ECS may choose from (EC2 instance-type names or wildcards such as "g6.*"); ECS picks the
       * cheapest that has an NVIDIA GPU and holds the task. @default ["g5.*", "g6.*"]
       */
      allowedInstanceTypes: z
        .array(z.string().regex(/^(g4dn|g5|g6|g6e|gr6|p3|p3dn|p4d|p4de|p5|p5e|p5en)\.(\*|[0-9]*x?large|metal)$/, 'must be an x86_64 NVIDIA GPU instance type or family wildcard such as g5.2xlarge or g6.*'))
        .min(1)
        .max(400)
        .default(['g5.*', 'g6.*']),
      /** Task CPU units (a multiple of 1024): ECS picks instances with at least this many vCPUs x 1024. @default 4096 */
      cpu: z.number().int().multipleOf(1024, 'must be a multiple of 1024 (whole vCPUs)').min(1024).max(196_608).default(4096),
      /** On-Demand or Spot instances (Spot can be interrupted with two minutes' notice). @default "on-demand" */
      capacity: z.enum(['on-demand', 'spot']).default('on-demand'),
      /** Task volume storage per instance in GiB (container images and logs live there). @default 100 */
      storageGiB: int(30, 16_384).default(100),
    })
    .strict(),
], { error: 'must be "fargate", "ec2-gpu" or "managed-gpu"' });

const NetworkSchema = z.discriminatedUnion('mode', [
  z
    .object({
      mode: z.literal('new').describe('A new VPC with private isolated subnets only (no NAT, no internet gateway).'),
      cidr: z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-4])$/, 'must be an IPv4 CIDR block from /16 to /24').default('10.40.0.0/16').describe('The VPC\'s IPv4 CIDR block.'),
      azCount: int(1, 6).default(2).describe('Number of availability zones (2 without `env.region` + `availabilityZones`: CloudFormation\'s GetAZs picks them).'),
      availabilityZones: z.array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'must be an availability zone name such as eu-west-1a')).min(1).optional().describe('Explicit AZ names; needed for more than 2 AZs (no lookups at synth).'),
      endpoints: z.boolean().default(true).describe('Create the interface/gateway endpoints the private subnets need (ECR, S3, Logs, Secrets Manager, Lambda, X-Ray).'),
      flowLogs: z.boolean().default(true).describe('VPC flow logs to CloudWatch Logs.'),
    })
    .strict(),
  z
    .object({
      mode: z.literal('existing').describe('Deploy into a VPC you already have.'),
      vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'must be a VPC id (vpc-...)').describe('The VPC id.'),
      vpcCidr: z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, 'must be an IPv4 CIDR block').describe('The VPC\'s IPv4 CIDR (interface endpoint security groups admit it).'),
      subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'must be a subnet id (subnet-...)')).min(1).describe('Private subnet ids, one per AZ, in the order of `availabilityZones`.'),
      availabilityZones: z.array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'must be an availability zone name such as eu-west-1a')).min(1).describe('The zones of subnetIds, in the same order.'),
      routeTableIds: z.array(z.string().regex(/^rtb-[0-9a-f]{8,17}$/, 'must be a route table id (rtb-...)')).min(1).optional().describe('Route tables of those subnets: the S3 gateway endpoint is attached to them.'),
      endpoints: z.boolean().default(true).describe('Create the interface/gateway endpoints (set false when the VPC already has them).'),
      flowLogs: z.boolean().default(true).describe('VPC flow logs to CloudWatch Logs.'),
    })
    .strict()
    .superRefine((value, ctx) => {
      if (value.endpoints && !value.routeTableIds) {
        ctx.addIssue({ code: 'custom', path: ['routeTableIds'], message: 'must be given to attach the S3 gateway endpoint (or set endpoints to false when the VPC has its endpoints)' });
      }
      if (value.routeTableIds && value.routeTableIds.length !== value.subnetIds.length) {
        ctx.addIssue({ code: 'custom', path: ['routeTableIds'], message: `must list one route table per subnet (${value.subnetIds.length} subnets)` });
      }
      if (value.subnetIds.length !== value.availabilityZones.length) {
        ctx.addIssue({ code: 'custom', path: ['subnetIds'], message: `must list one subnet per availability zone (${value.availabilityZones.length} zones, ${value.subnetIds.length} subnets)` });
      }
    }),
], { error: 'must be "new" or "existing"' });

const CompareSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('forward').describe('Forward compares to the container.') }).strict(),
  z
    .object({
      mode: z.literal('table').describe('Answer compares in Lambda from a calibrated score table (npm run calibrate).'),
      scoreTableFile: z.string().min(1).describe('A verified score-table JSON file (path relative to the project root) naming the image digest it was calibrated on.'),
      checkSchedule: z
        .string()
        .regex(/^(rate|cron)\(.+\)$/, 'must be an EventBridge schedule expression such as "rate(15 minutes)"')
        .default('rate(15 minutes)')
        .describe('EventBridge schedule of the live check of the table against the container (it also runs after every ECS deployment).'),
      checkRandomPairs: int(1, 10_000).default(32).describe('Random pairs per live check; two pairs per table boundary come on top.'),
    })
    .strict(),
], { error: 'must be "forward" or "table"' });

/** The whole deployment configuration. Every field has a default: `{}` is the default deployment. */
export const AppConfigSchema = z
  .object({
    stage: z.string().regex(/^[a-z][a-z0-9-]{0,19}$/, 'must be 1-20 lower-case letters, digits or dashes, starting with a letter').default('dev').describe('Stage name: part of every stack name.'),
    env: z
      .object({
        account: z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id').optional().describe('AWS account id to pin the stacks to.'),
        region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1').optional().describe('AWS region to pin the stacks to (then list network.availabilityZones).'),
      })
      .strict()
      .prefault({}).describe('Target account/region; leave empty for an environment-agnostic synth.'),
    vendorImage: z
      .object({
        registry: z.string().regex(ECR_REGISTRY_HOST, 'must be an ECR registry host <account>.dkr.ecr.<region>.amazonaws.com').default(VENDOR_REGISTRY).describe('The vendor\'s ECR registry host.'),
        repository: z.string().regex(REPOSITORY_NAME, 'must be an ECR repository name').default(VENDOR_REPOSITORY).describe('The vendor\'s repository.'),
        tag: z.string().regex(IMAGE_TAG, 'must be an image tag').default('latest').describe('The vendor image tag.'),
      })
      .strict()
      .prefault({}),
    imageSupply: ImageSupplySchema.prefault({ mode: 'mirror' }),
    activationKey: SecretRefSchema.prefault({ create: true }).describe('The vendor\'s activation key (ACTIVATION_KEY): created to be filled in, or imported.'),
    compute: ComputeSchema.prefault({ mode: 'fargate' }),
    tasks: z
      .object({
        min: int(0, 100).default(1).describe('Fewest running tasks.'),
        desired: int(0, 100).default(1).describe('Tasks at deploy time (between min and max).'),
        max: int(1, 100).default(4).describe('Most running tasks.'),
        /**
         * ALB requests per target per minute the scaling policy aims for (ALBRequestCountPerTarget). On GPU
         * compute it is the only scaling signal: calibrate it from one task's measured throughput (docs/gpu.md).
         */
        requestsPerTarget: int(1, 100_000).default(120).describe('ALB requests per target (per minute) the scaling policy aims for; the only scaling signal on GPU compute (calibrate it: docs/gpu.md).'),
        cpuTargetPercent: int(10, 95).default(60).describe('Average CPU % the second scaling policy aims for (Fargate only: a GPU task has no CPU units to measure against).'),
        healthCheckGracePeriodSeconds: int(0, 7200).default(300).describe('Seconds the ALB health check is ignored after a task starts (model loading).'),
      })
      .strict()
      .prefault({}),
    container: z
      .object({
        healthCheckPath: z.string().regex(/^\/[\w./-]*$/, 'must be an absolute URL path').default('/swagger/index.html').describe('The ALB target group\'s health check path (the container serves Swagger UI there).'),
        scratchPaths: z.array(z.string().regex(/^\/[\w./-]+$/, 'must be an absolute path')).max(8).default(['/tmp']).describe('Writable scratch directories on the otherwise read-only root file system.'),
        /**
         * Linux capabilities to drop beyond Docker's defaults. The guide's `docker run` drops none, and dropping
         * ALL can crash-loop an entrypoint that chowns files or switches user, so the default matches the guide.
         * "all" drops every capability; a list drops those (ECS KernelCapabilities names). @default "none"
         */
        dropCapabilities: z
          .union([z.literal('none'), z.literal('all'), z.array(z.enum(LINUX_CAPABILITIES, { error: 'must be Linux capability names such as NET_RAW or SYS_CHROOT (ECS KernelCapabilities)' })).min(1)], {
            error: 'must be "none", "all" or a list of Linux capability names (e.g. ["NET_RAW", "MKNOD"])',
          })
          .default('none')
          .describe('Linux capabilities to drop beyond Docker\'s defaults: "none" (as the guide\'s docker run), "all", or a list of names.'),
        /**
         * Scratch directories on Fargate and ECS Managed Instances are task bind volumes, which ECS creates owned by
         * root with mode 0755 (ECS developer guide, "Bind mounts"; github.com/aws/containers-roadmap/issues/938):
         * a non-root image cannot write there unless its Dockerfile declares the path as a VOLUME it owns.
         * "world-writable" adds a short init container that runs `chmod 1777` on them as root (the image must
         * contain chmod) before the API container starts. EC2 GPU tmpfs mounts are always mode 1777.
         * @default "as-created"
         */
        scratchPermissions: z
          .enum(['as-created', 'world-writable'])
          .default('as-created')
          .describe('Fargate/managed-gpu scratch volumes are root-owned 0755; "world-writable" chmods them 1777 in an init container so a non-root image can write.'),
      })
      .strict()
      .prefault({}),
    network: NetworkSchema.prefault({ mode: 'new' }),
    api: z
      .object({
        stageName: z.string().regex(/^[a-zA-Z0-9_]{1,64}$/, 'must be letters, digits or underscores').default('prod').describe('API Gateway stage name (part of the execute-api URL).'),
        /**
         * Stage-wide throttle: the cap on ALL clients together (API Gateway applies a stage's method
         * throttle to the stage, not per key; "Throttle API requests for better throughput"). It is
         * also each client's usage-plan throttle unless the client sets its own, which must not be
         * above it (a plan above the stage cap can never be reached).
         */
        throttle: ThrottleSchema.prefault({ rateLimit: 50, burstLimit: 100 }).describe('Stage-wide throttle: the cap on all clients together, and each client\'s plan throttle unless it sets its own (never above this).'),
        quota: QuotaSchema.optional().describe('Default per-client quota (a client\'s own `quota` wins).'),
        clients: z.array(ClientSchema).min(1).max(50).default([{ name: 'default' }]).describe('Named clients, each with its own API key and usage plan.'),
        /**
         * Seconds API Gateway caches an authorizer decision per Authorization header (0 = off).
         * Use {@link authorizerCacheTtlSeconds} for the effective value.
         * @default 300, or 60 when `jwt` is configured (at most 60 then)
         */
        authorizerCacheTtlSeconds: int(0, 3600)
          .optional()
          .describe('Seconds API Gateway caches an authorizer decision per Authorization header (0 = off); default 300, or 60 (and at most 60) when jwt is configured, so a token works at most 60 s past its exp.'),
        waf: z
          .object({
            /**
             * The web ACL: managed common rules, a per-IP rate limit and the 413 answer for bodies over
             * the Lambda invoke limit. Without it, a body of 6-10 MB fails at Lambda's invoke limit
             * before any handler runs and the client gets a 5xx (docs/first-deploy.md).
             */
            enabled: z.boolean().default(true).describe('Attach a WAFv2 web ACL: AWS common rules, a per-IP rate rule, and the 413 answer for bodies over the Lambda invoke limit (without it such bodies get a 5xx).'),
            /**
             * Requests per client IP per 5 minutes before the rate-based rule blocks (WAF minimum 10).
             * Must be at least the fastest usage plan's rate x 300 s, or the WAF blocks a client that
             * keeps to its plan (clients behind one NAT address share the count).
             * @default the fastest usage plan's rate x 300 s (50 rps x 300 = 15,000 by default)
             */
            rateLimitPer5Minutes: int(10, 2_000_000_000).optional().describe('Requests per client IP per 5 minutes before the rate-based rule blocks; at least the fastest usage plan\'s rate x 300 s (default: exactly that, 15,000 with the defaults).'),
          })
          .strict()
          .prefault({}),
        customDomain: z
          .object({
            domainName: z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a lower-case DNS name').describe('Custom domain name of the API.'),
            certificateArn: z.string().regex(CERTIFICATE_ARN, 'must be an ACM certificate ARN in the API region').describe('ACM certificate for domainName, in the API region.'),
            hostedZoneId: z.string().regex(/^Z[A-Z0-9]{1,32}$/, 'must be a Route 53 hosted zone id').optional().describe('Route 53 zone to create the alias record in (both id and name, no lookups); omit to create the record yourself.'),
            hostedZoneName: z.string().optional().describe('Route 53 zone name (with hostedZoneId).'),
          })
          .strict()
          .superRefine((value, ctx) => {
            if ((value.hostedZoneId === undefined) !== (value.hostedZoneName === undefined)) {
              ctx.addIssue({ code: 'custom', path: ['hostedZoneName'], message: 'hostedZoneId and hostedZoneName go together' });
            }
          })
          .optional(),
        docs: z.enum(['public', 'private', 'off']).default('public').describe('Swagger UI and the OpenAPI document: public, behind the authorizer (private), or not deployed (off).'),
        cors: z
          .object({
            allowOrigins: z
              .array(z.string().superRefine((value, ctx) => {
                const reason = originProblem(value);
                if (reason) ctx.addIssue({ code: 'custom', message: reason });
              }))
              .max(50)
              .refine((origins) => !origins.includes('*') || origins.length === 1, 'must be ["*"] alone or a list of origins')
              .default([])
              .describe('Origins (https://app.example.com) whose pages may call the API, or ["*"]; gateway errors carry the one origin, or "*" when several are listed.'),
          })
          .strict()
          .prefault({}).describe('CORS: browser apps (origins) allowed to call the API; none by default (no preflight route either).'),
      })
      .strict()
      .prefault({}),
    jwt: z
      .object({
        issuer: z.string().url('must be an https URL').startsWith('https://', 'must be an https URL').describe('Token issuer (iss), https.'),
        audience: z.array(z.string().min(1)).min(1).describe('Accepted audiences (aud).'),
        jwksUri: z.string().url('must be an https URL').startsWith('https://', 'must be an https URL').optional().describe('JWKS URL (default: <issuer>/.well-known/jwks.json).'),
        clientClaim: z
          .string()
          .regex(/^[A-Za-z0-9_:.-]{1,64}$/, 'must be a claim name (1-64 letters, digits or _:.-)')
          .default(DEFAULT_CLIENT_CLAIM)
          .describe('The claim naming a token\'s client (`sub` when a token lacks it); each client is metered separately.'),
        /**
         * Bearer clients with their own usage plan: `claimValue` is the client claim's value in
         * their tokens. Every other client is metered under the default plan, which they share.
         */
        clients: z
          .array(BearerClientSchema)
          .max(MAX_BEARER_CLIENTS)
          .default([])
          .describe('Bearer clients with their own usage plan ({name, claimValue, throttle?, quota?}); every other client shares the default plan.'),
        throttle: ThrottleSchema.optional().describe('Throttle of the default Bearer plan (unconfigured clients share it); default api.throttle.'),
        quota: QuotaSchema.optional().describe('Quota of the default Bearer plan; default api.quota.'),
        maxTokenLifetimeSeconds: int(60, 31 * 86_400)
          .default(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS)
          .describe('Longest accepted token lifetime, exp - iat, in seconds (tokens without exp are always refused).'),
      })
      .strict()
      .superRefine((jwt, ctx) => {
        const names = jwt.clients.map((client) => client.name);
        const duplicateName = names.find((name, index) => names.indexOf(name) !== index);
        if (duplicateName) ctx.addIssue({ code: 'custom', path: ['clients'], message: `client name "${duplicateName}" is used twice` });
        const values = jwt.clients.map((client) => client.claimValue);
        const duplicateValue = values.findIndex((value, index) => values.indexOf(value) !== index);
        if (duplicateValue >= 0) ctx.addIssue({ code: 'custom', path: ['clients', duplicateValue, 'claimValue'], message: 'is used by another client' });
      })
      .optional()
      .describe('Bearer JWT: without it, Bearer tokens are refused and only API keys work.'),
    imageFetch: z
      .object({
        /**
         * CIDRs fetched even when private, on any port. Checked here with the runtime's own parser:
         * at most /16 (IPv4) or /48 (IPv6) wide, never covering loopback, link-local or unspecified.
         */
        allowCidrs: z
          .array(z.string())
          .default([])
          .superRefine((entries, ctx) => {
            for (const { index, reason } of deployableAllowCidrProblems(entries)) ctx.addIssue({ code: 'custom', path: [index], message: reason });
          })
          .describe('CIDRs exempted from the SSRF address policy (addresses in them may also use ports other than 80/443): at most /16 (IPv4) or /48 (IPv6), never covering loopback, link-local or unspecified.'),
        /** Largest image.url download; the runtime's own limit (base64 inside Lambda's 6 MB response). */
        maxBytes: z
          .number()
          .int()
          .min(1024)
          .max(MAX_IMAGE_BYTES_LIMIT, `must be at most ${MAX_IMAGE_BYTES_LIMIT}: the image travels back as base64 inside Lambda's 6 MB response`)
          .default(DEFAULT_IMAGE_FETCH_CONFIG.maxBytes)
          .describe(`Largest downloadable image in bytes (at most ${MAX_IMAGE_BYTES_LIMIT}: the image travels back as base64 inside Lambda's 6 MB response).`),
        timeoutMs: int(100, 25_000).default(10_000).describe('Total download deadline in ms (DNS, redirects, body).'),
      })
      .strict()
      .prefault({}).describe('Where fetch-image may download from besides the public internet (CIDRs).'),
    alarms: z
      .object({
        email: z.string().email('must be an e-mail address').optional().describe('E-mail address subscribed to the alarm topic (confirm the subscription e-mail).'),
        p99LatencyMs: int(100, 60_000).default(10_000).describe('API p99 latency threshold in ms.'),
        serverErrorRatePercent: z.number().positive().max(100).default(1).describe('API 5XX share of requests (%) that alarms.'),
        throttledPer5Minutes: int(1, 1_000_000).default(10).describe('429 answers in 5 minutes that alarm.'),
      })
      .strict()
      .prefault({}),
    /**
     * CloudWatch Logs retention (days) for every log group. One year by default: Control Tower
     * control CT.CLOUDWATCH.PR.2 requires at least 365 days (the logs hold request metadata, never
     * images, embeddings or keys).
     */
    logRetentionDays: z
      .number()
      .refine((value) => (LOG_RETENTION_DAYS as readonly number[]).includes(value), `must be one of ${LOG_RETENTION_DAYS.join(', ')}`)
      .default(365)
      .describe(`CloudWatch Logs retention (days) for every log group (Control Tower CT.CLOUDWATCH.PR.2 asks for at least 365): one of ${LOG_RETENTION_DAYS.join(', ')}.`),
    compare: CompareSchema.prefault({ mode: 'forward' }),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.tasks.desired < config.tasks.min || config.tasks.desired > config.tasks.max) {
      ctx.addIssue({ code: 'custom', path: ['tasks', 'desired'], message: `must be between tasks.min (${config.tasks.min}) and tasks.max (${config.tasks.max})` });
    }
    if (config.tasks.max < config.tasks.min) {
      ctx.addIssue({ code: 'custom', path: ['tasks', 'max'], message: `must be at least tasks.min (${config.tasks.min})` });
    }
    const names = config.api.clients.map((client) => client.name);
    const duplicate = names.find((name, index) => names.indexOf(name) !== index);
    if (duplicate) {
      ctx.addIssue({ code: 'custom', path: ['api', 'clients'], message: `client name "${duplicate}" is used twice` });
    }
    if (config.jwt) {
      // The Bearer keys, plans and outputs are named Bearer<Client>: an API-key client "bearer-x" would take the same names.
      config.api.clients.forEach((client, index) => {
        if (client.name === 'bearer' || client.name.startsWith('bearer-')) {
          ctx.addIssue({ code: 'custom', path: ['api', 'clients', index, 'name'], message: `"${client.name}" is reserved for the Bearer usage plans when jwt is configured; rename the client` });
        }
      });
    }
    if (config.jwt && config.api.authorizerCacheTtlSeconds !== undefined && config.api.authorizerCacheTtlSeconds > MAX_JWT_AUTHORIZER_CACHE_TTL_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['api', 'authorizerCacheTtlSeconds'],
        message: `must be at most ${MAX_JWT_AUTHORIZER_CACHE_TTL_SECONDS} when jwt is configured: a cached Allow outlives the token's exp by up to the TTL`,
      });
    }
    const net = config.network;
    if (net.mode === 'new') {
      if (net.availabilityZones && net.availabilityZones.length !== net.azCount) {
        ctx.addIssue({ code: 'custom', path: ['network', 'availabilityZones'], message: `must list azCount (${net.azCount}) zones` });
      }
      // An environment-agnostic stack gets at most 2 AZs from Fn::GetAZs; more needs named zones (and no lookup).
      if (!net.availabilityZones && net.azCount > 2) {
        ctx.addIssue({ code: 'custom', path: ['network', 'availabilityZones'], message: 'must be given when azCount is more than 2 (synth does no lookups)' });
      }
      // A region-specific stack would look its AZs up (needs credentials at synth).
      if (!net.availabilityZones && config.env.region) {
        ctx.addIssue({ code: 'custom', path: ['network', 'availabilityZones'], message: 'must be given when env.region is set (synth does no lookups)' });
      }
      if (net.availabilityZones && !config.env.region) {
        ctx.addIssue({ code: 'custom', path: ['env', 'region'], message: 'must be set when network.availabilityZones is given' });
      }
    }
    const zones = net.mode === 'existing' ? net.availabilityZones : net.availabilityZones;
    if (zones && config.env.region && zones.some((zone) => !zone.startsWith(config.env.region!))) {
      ctx.addIssue({ code: 'custom', path: ['network', 'availabilityZones'], message: `must be zones of env.region (${config.env.region})` });
    }
    if (config.compare.mode === 'table') {
      // DESIGN.md: only a table verified against the vendor container may answer compares in Lambda.
      const file = projectPath(config.compare.scoreTableFile);
      try {
        const table = loadScoreTable(file);
        const problem = deployableTableProblem(table);
        if (problem) {
          ctx.addIssue({ code: 'custom', path: ['compare', 'scoreTableFile'], message: `${config.compare.scoreTableFile} ${problem}: use compare.mode "forward" until a table is verified against the vendor container` });
        }
        // A table is exact only for the image it was measured on. An external image pinned by digest is known
        // now, so a mismatch fails synth before anything is deployed (mirror mode checks at deploy time instead).
        const pinned = config.imageSupply.mode === 'external' ? /@(sha256:[a-f0-9]{64})$/.exec(config.imageSupply.imageUri)?.[1] : undefined;
        const calibratedOn = tableImageDigest(table);
        if (!problem && pinned && calibratedOn !== pinned) {
          ctx.addIssue({ code: 'custom', path: ['compare', 'scoreTableFile'], message: staleTableMessage(config.compare.scoreTableFile, calibratedOn ?? '(none)', pinned) });
        }
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['compare', 'scoreTableFile'], message: existsSync(file) ? (err as Error).message : `${config.compare.scoreTableFile} does not exist` });
      }
    }
    if (config.compute.mode === 'ec2-gpu' && GPU_INSTANCE_TYPES[config.compute.instanceType]) {
      const compute = config.compute;
      const spec = GPU_INSTANCE_TYPES[compute.instanceType]!;
      const scratch = config.container.scratchPaths.length;
      const perInstance = gpuTasksPerInstance(compute.instanceType, scratch);
      if (perInstance < 1) {
        const usable = spec.memoryGiB * 1024 - GPU_INSTANCE_RESERVED_MIB;
        ctx.addIssue({
          code: 'custom',
          path: ['compute', 'instanceType'],
          message: `${compute.instanceType} has ${spec.memoryGiB} GiB of memory; after ${GPU_INSTANCE_RESERVED_MIB} MiB for the OS, Docker, the NVIDIA driver and the ECS agent, ${usable} MiB are left, less than one task needs (${CONTAINER_MEMORY_LIMIT_MIB} MiB hard limit + ${scratch} x ${TMPFS_SIZE_MIB} MiB tmpfs = ${gpuTaskMemoryMiB(scratch)} MiB): use a 32 GiB type such as g5.2xlarge or g6.2xlarge`,
        });
      } else {
        // A deployment at tasks.max runs maximumPercent (200 %) of the tasks until the old ones drain.
        const peakTasks = Math.ceil((config.tasks.max * DEPLOYMENT_MAX_HEALTHY_PERCENT) / 100);
        const needed = Math.ceil(peakTasks / perInstance);
        if (compute.maxInstances < needed) {
          ctx.addIssue({
            code: 'custom',
            path: ['compute', 'maxInstances'],
            message: `must be at least ${needed}: a deployment at tasks.max (${config.tasks.max}) starts the new tasks before stopping the old (maximumPercent ${DEPLOYMENT_MAX_HEALTHY_PERCENT}), ${peakTasks} tasks at ${perInstance} per ${compute.instanceType} (${spec.gpus} GPU, one per task); with fewer instances the deployment waits for capacity that never comes`,
          });
        }
      }
    }
    // Throttles that agree (issue 9, finding 11): no plan above the stage cap, no WAF limit below a plan.
    const stageThrottle = config.api.throttle;
    for (const plan of usagePlanThrottles(config)) {
      if (plan.throttle.rateLimit > stageThrottle.rateLimit) {
        ctx.addIssue({ code: 'custom', path: [...plan.path, 'rateLimit'], message: `must be at most api.throttle.rateLimit (${stageThrottle.rateLimit}): the stage throttle caps all clients together, so a faster plan is never reached` });
      }
      if (plan.throttle.burstLimit > stageThrottle.burstLimit) {
        ctx.addIssue({ code: 'custom', path: [...plan.path, 'burstLimit'], message: `must be at most api.throttle.burstLimit (${stageThrottle.burstLimit}): the stage throttle caps all clients together` });
      }
    }
    const wafLimit = config.api.waf.rateLimitPer5Minutes;
    const needed = minimumWafRateLimit(config);
    if (config.api.waf.enabled && wafLimit !== undefined && wafLimit < needed) {
      ctx.addIssue({
        code: 'custom',
        path: ['api', 'waf', 'rateLimitPer5Minutes'],
        message: `must be at least ${needed} (the fastest usage plan's ${maxPlanRate(config)} requests/s for 300 s): a lower per-IP limit blocks a client that keeps to its plan`,
      });
    }
    if (config.compute.mode === 'ec2-gpu' && config.compute.warmPool && config.compute.warmPool.minSize > config.compute.maxInstances) {
      ctx.addIssue({ code: 'custom', path: ['compute', 'warmPool', 'minSize'], message: `must be at most compute.maxInstances (${config.compute.maxInstances})` });
    }
  });

type ThrottleConfig = z.output<typeof ThrottleSchema>;
type ThrottleSource = {
  api: { throttle: ThrottleConfig; clients: ReadonlyArray<{ name: string; throttle?: ThrottleConfig }> };
  jwt?: { throttle?: ThrottleConfig; clients?: ReadonlyArray<{ name: string; throttle?: ThrottleConfig }> };
};

/** Every usage plan's throttle (a client's own, else the stage's), with the config path it comes from. */
export function usagePlanThrottles(config: ThrottleSource): Array<{ name: string; path: Array<string | number>; throttle: ThrottleConfig }> {
  const plans = config.api.clients.map((client, index) => ({
    name: client.name,
    path: client.throttle ? ['api', 'clients', index, 'throttle'] : ['api', 'throttle'],
    throttle: client.throttle ?? config.api.throttle,
  }));
  if (config.jwt) {
    const bearerDefault = config.jwt.throttle ?? config.api.throttle;
    plans.push({ name: 'bearer', path: config.jwt.throttle ? ['jwt', 'throttle'] : ['api', 'throttle'], throttle: bearerDefault });
    // Each configured Bearer client has a plan of its own (its throttle, else the default Bearer plan's).
    (config.jwt.clients ?? []).forEach((client, index) =>
      plans.push({
        name: `bearer-${client.name}`,
        path: client.throttle ? ['jwt', 'clients', index, 'throttle'] : config.jwt!.throttle ? ['jwt', 'throttle'] : ['api', 'throttle'],
        throttle: client.throttle ?? bearerDefault,
      }),
    );
  }
  return plans;
}

/** The fastest usage plan's steady rate (requests per second). */
function maxPlanRate(config: ThrottleSource): number {
  return Math.max(...usagePlanThrottles(config).map((plan) => plan.throttle.rateLimit));
}

/**
 * The lowest per-IP WAF limit (per 5-minute window; AWS WAF rate-based rules count over
 * `evaluationWindowSec` = 300 here) that lets one client run at the fastest plan's rate.
 */
export function minimumWafRateLimit(config: ThrottleSource): number {
  return Math.max(10, Math.ceil(maxPlanRate(config) * 300));
}

/** The per-IP WAF limit to deploy: the configured one, else {@link minimumWafRateLimit}. */
export function wafRateLimitPer5Minutes(config: ThrottleSource & { api: { waf: { rateLimitPer5Minutes?: number } } }): number {
  return config.api.waf.rateLimitPer5Minutes ?? minimumWafRateLimit(config);
}

/**
 * The authorizer cache TTL the API uses: the configured value, else 300 s, or
 * 60 s when Bearer tokens are accepted. API Gateway caches a REQUEST
 * authorizer's policy per identity source (the Authorization header) for the
 * TTL and cannot shorten it per answer, so with tokens the TTL bounds how long
 * after its `exp` a token still works.
 */
export function authorizerCacheTtlSeconds(config: Pick<AppConfig, 'api' | 'jwt'>): number {
  return config.api.authorizerCacheTtlSeconds ?? (config.jwt ? MAX_JWT_AUTHORIZER_CACHE_TTL_SECONDS : 300);
}

/** The parsed, defaulted configuration every construct receives (through props). */
export type AppConfig = z.output<typeof AppConfigSchema>;
/** What an operator writes (every field optional). */
export type AppConfigInput = z.input<typeof AppConfigSchema>;
export type SecretRef = z.output<typeof SecretRefSchema>;
export type ImageSupplyConfig = AppConfig['imageSupply'];
export type ComputeConfig = AppConfig['compute'];
export type NetworkConfig = AppConfig['network'];

/** A configuration error: every problem on its own line, each naming the field. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[], source: string) {
    super(`Invalid configuration (${source}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Validates a raw configuration object.
 * @param raw the merged configuration (cdk.json context + config file)
 * @param source where it came from, for the error message
 * @throws ConfigError naming each bad field
 */
export function parseConfig(raw: unknown, source = 'configuration'): AppConfig {
  const result = AppConfigSchema.safeParse(raw ?? {});
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`),
      source,
    );
  }
  return result.data;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Merges `override` into `base`: objects merge key by key, anything else (arrays too) is replaced. */
export function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override === undefined ? base : override;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) out[key] = deepMerge(base[key], value);
  return out;
}

/** What `loadConfig` reads: a context getter (an App's `node.tryGetContext`) and the project directory. */
export interface LoadConfigOptions {
  /** Reads a CDK context value (`app.node.tryGetContext`). */
  readonly getContext: (key: string) => unknown;
  /** Directory holding `config/`. @default the project root */
  readonly projectDir?: string;
}

/** The context key in `cdk.json` holding the base configuration object. */
export const CONFIG_CONTEXT_KEY = 'faceVerification';

/** The stage used without `-c stage=`; the only stage that needs no `config/<stage>.json`. */
export const DEFAULT_STAGE = 'dev';

/** The stages `-c stage=` accepts: `dev` and one per `config/<stage>.json`, sorted. */
export function knownStages(projectDir = PROJECT_DIR): string[] {
  const dir = join(projectDir, 'config');
  const fromFiles = existsSync(dir)
    ? readdirSync(dir).filter((name) => /^[a-z][a-z0-9-]{0,19}\.json$/.test(name)).map((name) => name.slice(0, -'.json'.length))
    : [];
  return [...new Set([DEFAULT_STAGE, ...fromFiles])].sort();
}

/**
 * Loads the configuration the way `cdk synth` sees it: the `faceVerification`
 * object from cdk.json context, then `config/<stage>.json` when `-c stage=<name>`
 * is given (the file must exist then, except for `dev`), then `stage` itself.
 * @throws ConfigError naming the bad field, the missing/invalid file, or an unknown stage with the known ones
 */
export function loadConfig(options: LoadConfigOptions): AppConfig {
  const projectDir = options.projectDir ?? PROJECT_DIR;
  const base = options.getContext(CONFIG_CONTEXT_KEY) ?? {};
  if (!isPlainObject(base)) throw new ConfigError([`${CONFIG_CONTEXT_KEY}: must be an object`], 'cdk.json context');
  const stage = options.getContext('stage');
  if (stage === undefined) return parseConfig(base, 'cdk.json context');
  if (typeof stage !== 'string' || !/^[a-z][a-z0-9-]{0,19}$/.test(stage)) {
    throw new ConfigError(['stage: must be 1-20 lower-case letters, digits or dashes, starting with a letter'], '-c stage');
  }
  const file = join(projectDir, 'config', `${stage}.json`);
  // A mistyped stage must not deploy the defaults under a new name: only `dev` (the default) may go without a file.
  if (!existsSync(file) && stage !== DEFAULT_STAGE) {
    throw new ConfigError([`stage: "${stage}" has no config/${stage}.json; known stages: ${knownStages(projectDir).join(', ')} (create config/${stage}.json, even as {}, to add one)`], '-c stage');
  }
  let fromFile: unknown = {};
  if (existsSync(file)) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError([`config/${stage}.json: is not valid JSON (${(err as Error).message})`], file);
    }
    if (!isPlainObject(fromFile)) throw new ConfigError([`config/${stage}.json: must hold a JSON object`], file);
  }
  return parseConfig(deepMerge(deepMerge(base, fromFile), { stage }), existsSync(file) ? `cdk.json context + config/${stage}.json` : 'cdk.json context');
}

/** Resolves a path from the configuration against the project directory. */
export function projectPath(path: string, projectDir = PROJECT_DIR): string {
  return isAbsolute(path) ? path : resolve(projectDir, path);
}
