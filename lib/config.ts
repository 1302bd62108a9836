/**
 * The deployment's configuration: one zod schema, parsed once in `bin/` from
 * `cdk.json` context (key `faceVerification`) merged with an optional
 * `config/<stage>.json`, then handed down as typed props. A bad value fails
 * synth with a message naming the field (e.g. `compute.cpu: ...`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DEFAULT_CLIENT_CLAIM, DEFAULT_MAX_TOKEN_LIFETIME_SECONDS } from '../lambda/shared/authorizer.js';
import { deployableAllowCidrProblems } from '../lambda/shared/image-fetch/address-policy.js';
import { DEFAULT_IMAGE_FETCH_CONFIG, MAX_IMAGE_BYTES_LIMIT } from '../lambda/shared/image-fetch/fetch-image.js';
import { deployableTableProblem, loadScoreTable } from '../lambda/shared/score-table.js';

/** The vendor's registry and repository, from the vendor guide's `docker pull` line. */
export const VENDOR_REGISTRY = '249265253269.dkr.ecr.eu-west-1.amazonaws.com';
export const VENDOR_REPOSITORY = 'verifeye/face-verification-api';

/** The container's hard memory limit: the guide's `--memory=16G`. */
export const CONTAINER_MEMORY_LIMIT_MIB = 16_384;

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
    /** Steady-state requests per second. */
    rateLimit: z.number().positive().max(10_000),
    /** Burst bucket size. */
    burstLimit: int(1, 5000),
  })
  .strict();

const QuotaSchema = z
  .object({
    limit: int(1, 1_000_000_000),
    period: z.enum(['DAY', 'WEEK', 'MONTH']),
  })
  .strict();

const ClientSchema = z
  .object({
    /** Client name: becomes part of the API key's name and output keys. */
    name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be 1-32 lower-case letters, digits or dashes, starting with a letter'),
    throttle: ThrottleSchema.optional(),
    quota: QuotaSchema.optional(),
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
      /** Copy the vendor's image into an ECR repository of this account with the image-mirror function. */
      mode: z.literal('mirror'),
      /** The vendor's access key pair as `{"accessKeyId","secretAccessKey"}`. */
      vendorCredentials: SecretRefSchema.prefault({ create: true }),
      /** EventBridge schedule expression for re-mirroring. */
      schedule: z.string().regex(/^(rate|cron)\(.+\)$/, 'must be an EventBridge schedule expression such as "rate(1 day)"').default('rate(1 day)'),
      /** pinned: a new vendor digest waits for the next `cdk deploy`; follow: the scheduled run rolls the service. */
      rollout: z.enum(['pinned', 'follow']).default('pinned'),
      /** Images kept in the mirror repository. */
      keepImages: int(1, 1000).default(10),
    })
    .strict(),
  z
    .object({
      /** ECR pull-through cache from the vendor's registry (needs the vendor to grant this account). */
      mode: z.literal('pull-through'),
      /** ECR repository prefix of the cache. */
      repositoryPrefix: z.string().regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, 'must be a lower-case ECR repository prefix').min(2).max(30).default('vendor-cache'),
      keepImages: int(1, 1000).default(10),
    })
    .strict(),
  z
    .object({
      /** Any ECR image URI the operator supplies (same region: the VPC has no internet route). */
      mode: z.literal('external'),
      imageUri: z.string().regex(ECR_IMAGE_URI, 'must be an ECR image URI <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> or @sha256:<digest>'),
    })
    .strict(),
], { error: 'must be "mirror", "pull-through" or "external"' });

const ComputeSchema = z.discriminatedUnion('mode', [
  z
    .object({
      mode: z.literal('fargate'),
      /** Task CPU units (2048, 4096, 8192 or 16384: sizes whose memory can hold the 16 GiB container). */
      cpu: z.union([z.literal(2048), z.literal(4096), z.literal(8192), z.literal(16384)]).default(4096),
      /** Task memory in MiB; at least 16384 (the container's hard limit). */
      memoryMiB: z.number().int().min(CONTAINER_MEMORY_LIMIT_MIB, `must be at least ${CONTAINER_MEMORY_LIMIT_MIB} (the container's 16 GiB hard memory limit)`).max(122_880).default(16_384),
      /** Fargate platform version. */
      platformVersion: z.enum(['LATEST', '1.4.0']).default('1.4.0'),
      /** Fargate ephemeral storage in GiB (21-200); image layers are unpacked there. */
      ephemeralStorageGiB: int(21, 200).default(30),
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
      mode: z.literal('ec2-gpu'),
      /** A GPU instance type of an x86_64 family (g4dn, g5, g6, g6e, gr6, p3, p4d, p5...). */
      instanceType: z.string().regex(GPU_INSTANCE_TYPE, 'must be an x86_64 GPU instance type such as g5.xlarge or g6.xlarge').default('g5.xlarge'),
      minInstances: int(0, 100).default(1),
      maxInstances: int(1, 100).default(2),
      /** A warm pool of stopped, pre-initialised instances for faster scale-out. */
      warmPool: z
        .object({ minSize: int(0, 100).default(1), reuseOnScaleIn: z.boolean().default(true) })
        .strict()
        .optional(),
      /** Root EBS volume (gp3, encrypted) in GiB: the image and the GPU drivers live there. */
      rootVolumeGiB: int(30, 1000).default(100),
      /**
       * Soft memory reservation used for placement. The 16 GiB hard limit stays; a
       * g5.xlarge/g6.xlarge (16 GiB) registers only about 15 GiB with ECS, so the
       * placement reservation must be lower than the hard limit.
       */
      memoryReservationMiB: int(1024, 16_384).default(12_288),
    })
    .strict()
    .superRefine((value, ctx) => {
      if (value.maxInstances < value.minInstances) {
        ctx.addIssue({ code: 'custom', path: ['maxInstances'], message: `must be at least minInstances (${value.minInstances})` });
      }
    }),
], { error: 'must be "fargate" or "ec2-gpu"' });

const NetworkSchema = z.discriminatedUnion('mode', [
  z
    .object({
      mode: z.literal('new'),
      cidr: z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-4])$/, 'must be an IPv4 CIDR block from /16 to /24').default('10.40.0.0/16'),
      /** Number of availability zones (2 without `env.region` + `availabilityZones`: CloudFormation's GetAZs picks them). */
      azCount: int(1, 6).default(2),
      /** Explicit AZ names; needed for more than 2 AZs (no lookups at synth). */
      availabilityZones: z.array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'must be an availability zone name such as eu-west-1a')).min(1).optional(),
      endpoints: z.boolean().default(true),
      flowLogs: z.boolean().default(true),
    })
    .strict(),
  z
    .object({
      mode: z.literal('existing'),
      vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'must be a VPC id (vpc-...)'),
      /** The VPC's IPv4 CIDR (interface endpoint security groups admit it). */
      vpcCidr: z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, 'must be an IPv4 CIDR block'),
      /** Private subnet ids, one per AZ, in the order of `availabilityZones`. */
      subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'must be a subnet id (subnet-...)')).min(1),
      availabilityZones: z.array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'must be an availability zone name such as eu-west-1a')).min(1),
      /** Route tables of those subnets: the S3 gateway endpoint is attached to them. */
      routeTableIds: z.array(z.string().regex(/^rtb-[0-9a-f]{8,17}$/, 'must be a route table id (rtb-...)')).min(1).optional(),
      /** Create the interface/gateway endpoints (set false when the VPC already has them). */
      endpoints: z.boolean().default(true),
      flowLogs: z.boolean().default(true),
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
  z.object({ mode: z.literal('forward') }).strict(),
  z
    .object({
      mode: z.literal('table'),
      /** A verified score-table JSON file (path relative to the project root). */
      scoreTableFile: z.string().min(1),
    })
    .strict(),
], { error: 'must be "forward" or "table"' });

/** The whole deployment configuration. Every field has a default: `{}` is the default deployment. */
export const AppConfigSchema = z
  .object({
    /** Stage name: part of every stack name. */
    stage: z.string().regex(/^[a-z][a-z0-9-]{0,19}$/, 'must be 1-20 lower-case letters, digits or dashes, starting with a letter').default('dev'),
    /** Target account/region; leave empty for an environment-agnostic synth. */
    env: z
      .object({
        account: z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id').optional(),
        region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1').optional(),
      })
      .strict()
      .prefault({}),
    vendorImage: z
      .object({
        registry: z.string().regex(ECR_REGISTRY_HOST, 'must be an ECR registry host <account>.dkr.ecr.<region>.amazonaws.com').default(VENDOR_REGISTRY),
        repository: z.string().regex(REPOSITORY_NAME, 'must be an ECR repository name').default(VENDOR_REPOSITORY),
        tag: z.string().regex(IMAGE_TAG, 'must be an image tag').default('latest'),
      })
      .strict()
      .prefault({}),
    imageSupply: ImageSupplySchema.prefault({ mode: 'mirror' }),
    /** The vendor's activation key (ACTIVATION_KEY): created to be filled in, or imported. */
    activationKey: SecretRefSchema.prefault({ create: true }),
    compute: ComputeSchema.prefault({ mode: 'fargate' }),
    tasks: z
      .object({
        min: int(0, 100).default(1),
        desired: int(0, 100).default(1),
        max: int(1, 100).default(4),
        /** ALB requests per target (per minute) the scaling policy aims for. */
        requestsPerTarget: int(1, 100_000).default(120),
        /** Average CPU % the scaling policy aims for. */
        cpuTargetPercent: int(10, 95).default(60),
        /** Seconds the ALB health check is ignored after a task starts (model loading). */
        healthCheckGracePeriodSeconds: int(0, 7200).default(300),
      })
      .strict()
      .prefault({}),
    container: z
      .object({
        /** The ALB target group's health check path (the container serves Swagger UI there). */
        healthCheckPath: z.string().regex(/^\/[\w./-]*$/, 'must be an absolute URL path').default('/swagger/index.html'),
        /** Writable scratch directories on the otherwise read-only root file system. */
        scratchPaths: z.array(z.string().regex(/^\/[\w./-]+$/, 'must be an absolute path')).max(8).default(['/tmp']),
      })
      .strict()
      .prefault({}),
    network: NetworkSchema.prefault({ mode: 'new' }),
    api: z
      .object({
        stageName: z.string().regex(/^[a-zA-Z0-9_]{1,64}$/, 'must be letters, digits or underscores').default('prod'),
        /** Stage-wide throttle (every method). */
        throttle: ThrottleSchema.prefault({ rateLimit: 50, burstLimit: 100 }),
        /** Default per-client quota (a client's own `quota` wins). */
        quota: QuotaSchema.optional(),
        /** Named clients, each with its own API key and usage plan. */
        clients: z.array(ClientSchema).min(1).max(50).default([{ name: 'default' }]),
        /**
         * Seconds API Gateway caches an authorizer decision per Authorization header (0 = off).
         * Use {@link authorizerCacheTtlSeconds} for the effective value.
         * @default 300, or 60 when `jwt` is configured (at most 60 then)
         */
        authorizerCacheTtlSeconds: int(0, 3600).optional(),
        waf: z
          .object({
            enabled: z.boolean().default(true),
            /** Requests per client IP per 5 minutes before the rate-based rule blocks (WAF minimum 10). */
            rateLimitPer5Minutes: int(10, 2_000_000_000).default(2000),
          })
          .strict()
          .prefault({}),
        customDomain: z
          .object({
            domainName: z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a lower-case DNS name'),
            certificateArn: z.string().regex(CERTIFICATE_ARN, 'must be an ACM certificate ARN in the API region'),
            /** Route 53 zone to create the alias record in (both id and name, no lookups); omit to create the record yourself. */
            hostedZoneId: z.string().regex(/^Z[A-Z0-9]{1,32}$/, 'must be a Route 53 hosted zone id').optional(),
            hostedZoneName: z.string().optional(),
          })
          .strict()
          .superRefine((value, ctx) => {
            if ((value.hostedZoneId === undefined) !== (value.hostedZoneName === undefined)) {
              ctx.addIssue({ code: 'custom', path: ['hostedZoneName'], message: 'hostedZoneId and hostedZoneName go together' });
            }
          })
          .optional(),
        /** Swagger UI and the OpenAPI document: public, behind the authorizer (private), or not deployed (off). */
        docs: z.enum(['public', 'private', 'off']).default('public'),
      })
      .strict()
      .prefault({}),
    /** Bearer JWT: without it, Bearer tokens are refused and only API keys work. */
    jwt: z
      .object({
        issuer: z.string().url('must be an https URL').startsWith('https://', 'must be an https URL'),
        audience: z.array(z.string().min(1)).min(1),
        jwksUri: z.string().url('must be an https URL').startsWith('https://', 'must be an https URL').optional(),
        /** The claim naming a token's client (`sub` when a token lacks it). */
        clientClaim: z.string().regex(/^[A-Za-z0-9_:.-]{1,64}$/, 'must be a claim name (1-64 letters, digits or _:.-)').default(DEFAULT_CLIENT_CLAIM),
        /**
         * Bearer clients with their own usage plan: `claimValue` is the client claim's value in
         * their tokens. Every other client is metered under the default plan, which they share.
         */
        clients: z.array(BearerClientSchema).max(MAX_BEARER_CLIENTS).default([]),
        /** Throttle of the default plan (unconfigured Bearer clients share it). @default api.throttle */
        throttle: ThrottleSchema.optional(),
        /** Quota of the default plan. @default api.quota */
        quota: QuotaSchema.optional(),
        /** Longest accepted token lifetime, exp - iat, in seconds (tokens without exp are always refused). */
        maxTokenLifetimeSeconds: int(60, 31 * 86_400).default(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS),
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
      .optional(),
    /** Where fetch-image may download from besides the public internet (CIDRs). */
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
          }),
        /** Largest image.url download; the runtime's own limit (base64 inside Lambda's 6 MB response). */
        maxBytes: z
          .number()
          .int()
          .min(1024)
          .max(MAX_IMAGE_BYTES_LIMIT, `must be at most ${MAX_IMAGE_BYTES_LIMIT}: the image travels back as base64 inside Lambda's 6 MB response`)
          .default(DEFAULT_IMAGE_FETCH_CONFIG.maxBytes),
        timeoutMs: int(100, 25_000).default(10_000),
      })
      .strict()
      .prefault({}),
    alarms: z
      .object({
        /** E-mail address subscribed to the alarm topic (confirm the subscription e-mail). */
        email: z.string().email('must be an e-mail address').optional(),
        /** API p99 latency threshold in ms. */
        p99LatencyMs: int(100, 60_000).default(10_000),
        /** API 5XX share of requests (%) that alarms. */
        serverErrorRatePercent: z.number().positive().max(100).default(1),
        /** 429 answers in 5 minutes that alarm. */
        throttledPer5Minutes: int(1, 1_000_000).default(10),
      })
      .strict()
      .prefault({}),
    /** CloudWatch Logs retention (days) for every log group. */
    logRetentionDays: z
      .number()
      .refine((value) => (LOG_RETENTION_DAYS as readonly number[]).includes(value), `must be one of ${LOG_RETENTION_DAYS.join(', ')}`)
      .default(30),
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
        const problem = deployableTableProblem(loadScoreTable(file));
        if (problem) {
          ctx.addIssue({ code: 'custom', path: ['compare', 'scoreTableFile'], message: `${config.compare.scoreTableFile} ${problem}: use compare.mode "forward" until a table is verified against the vendor container` });
        }
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['compare', 'scoreTableFile'], message: existsSync(file) ? (err as Error).message : `${config.compare.scoreTableFile} does not exist` });
      }
    }
    if (config.compute.mode === 'ec2-gpu' && config.compute.warmPool && config.compute.warmPool.minSize > config.compute.maxInstances) {
      ctx.addIssue({ code: 'custom', path: ['compute', 'warmPool', 'minSize'], message: `must be at most compute.maxInstances (${config.compute.maxInstances})` });
    }
  });

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

/**
 * Loads the configuration the way `cdk synth` sees it: the `faceVerification`
 * object from cdk.json context, then `config/<stage>.json` when `-c stage=<name>`
 * is given (the file must exist then), then `stage` itself.
 * @throws ConfigError naming the bad field, or the missing/invalid file
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
