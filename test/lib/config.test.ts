/** The configuration schema: defaults, errors that name the field, and loading from context + config/<stage>.json. */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CONFIG_CONTEXT_KEY,
  ConfigError,
  GPU_INSTANCE_TYPES,
  PROJECT_DIR,
  VENDOR_REGISTRY,
  VENDOR_REPOSITORY,
  deepMerge,
  gpuTasksPerInstance,
  loadConfig,
  parseConfig,
  type AppConfigInput,
} from '../../lib/config.js';
import { PASSED_CALIBRATION, writeCalibratedTable } from './calibrated-table.js';

/** The error message parseConfig throws for `input` (fails the test when it does not throw). */
function configError(input: unknown): string {
  try {
    parseConfig(input, 'test');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

describe('parseConfig defaults', () => {
  it('GIVEN no configuration WHEN parsed THEN it is the default deployment of the issue', () => {
    const config = parseConfig({});
    expect(config.stage).toBe('dev');
    expect(config.vendorImage).toEqual({ registry: VENDOR_REGISTRY, repository: VENDOR_REPOSITORY, tag: 'latest' });
    expect(VENDOR_REGISTRY).toBe('249265253269.dkr.ecr.eu-west-1.amazonaws.com');
    expect(config.imageSupply).toMatchObject({ mode: 'mirror', rollout: 'pinned', schedule: 'rate(1 day)', vendorCredentials: { create: true } });
    expect(config.activationKey).toEqual({ create: true });
    expect(config.compute).toEqual({ mode: 'fargate', cpu: 4096, memoryMiB: 16384, platformVersion: 'LATEST', ephemeralStorageGiB: 30 });
    expect(config.container.healthCheckPath).toBe('/swagger/index.html');
    expect(config.network).toMatchObject({ mode: 'new', cidr: '10.40.0.0/16', azCount: 2, endpoints: true, flowLogs: true });
    expect(config.api).toMatchObject({ stageName: 'prod', docs: 'public', waf: { enabled: true }, clients: [{ name: 'default' }] });
    expect(config.jwt).toBeUndefined();
    expect(config.compare).toEqual({ mode: 'forward' });
    expect(config.logRetentionDays).toBe(365);
  });

  it('GIVEN a GPU compute block with only its mode WHEN parsed THEN the GPU defaults fill in', () => {
    const config = parseConfig({ compute: { mode: 'ec2-gpu' } });
    // g5.2xlarge: 32 GiB holds the 16 GiB container + tmpfs + the OS and agent; 8 instances hold a deployment at tasks.max 4 (200 %).
    expect(config.compute).toEqual({ mode: 'ec2-gpu', instanceType: 'g5.2xlarge', minInstances: 1, maxInstances: 8, rootVolumeGiB: 100, memoryReservationMiB: 16384 });
  });

  it('GIVEN a managed GPU compute block with only its mode WHEN parsed THEN the managed GPU defaults fill in', () => {
    expect(parseConfig({ compute: { mode: 'managed-gpu' } }).compute).toEqual({ mode: 'managed-gpu', allowedInstanceTypes: ['g5.*', 'g6.*'], cpu: 4096, capacity: 'on-demand', storageGiB: 100 });
  });

  it('GIVEN no container block WHEN parsed THEN no capability is dropped (like the guide\'s docker run) and scratch volumes stay as ECS creates them', () => {
    expect(parseConfig({}).container).toEqual({ healthCheckPath: '/swagger/index.html', scratchPaths: ['/tmp'], dropCapabilities: 'none', scratchPermissions: 'as-created' });
  });

  it('GIVEN the GPU instance table WHEN read THEN the types the issue names have the memory of the EC2 specification page', () => {
    expect(GPU_INSTANCE_TYPES['g5.xlarge']).toEqual({ memoryGiB: 16, gpus: 1 });
    expect(GPU_INSTANCE_TYPES['g5.2xlarge']).toEqual({ memoryGiB: 32, gpus: 1 });
    expect(GPU_INSTANCE_TYPES['g6.2xlarge']).toEqual({ memoryGiB: 32, gpus: 1 });
    expect(gpuTasksPerInstance('g5.xlarge', 1)).toBe(0);
    expect(gpuTasksPerInstance('g5.2xlarge', 1)).toBe(1);
    expect(gpuTasksPerInstance('g5.12xlarge', 1)).toBe(4);
    expect(gpuTasksPerInstance('g5.99xlarge', 1)).toBe(0);
  });
});

describe('parseConfig refuses bad values, naming the field', () => {
  const cases: Array<[string, AppConfigInput | Record<string, unknown>, RegExp]> = [
    ['an unknown top-level key', { bogus: 1 }, /\(root\): Unrecognized key: "bogus"/],
    ['a Fargate memory below the 16 GiB container', { compute: { mode: 'fargate', memoryMiB: 8192 } }, /compute\.memoryMiB: must be at least 16384/],
    ['a Fargate memory that is not a valid size for the cpu', { compute: { mode: 'fargate', cpu: 8192, memoryMiB: 17000 } }, /compute\.memoryMiB: 17000 is not a Fargate memory size for cpu 8192: use 16384-61440 MiB in steps of 4096/],
    ['a Fargate cpu too small for 16 GiB', { compute: { mode: 'fargate', cpu: 1024 } }, /compute\.cpu/],
    ['an unknown compute mode', { compute: { mode: 'gpu' } }, /compute\.mode: must be "fargate", "ec2-gpu" or "managed-gpu"/],
    // EC2 "Accelerated computing instance specifications": g5.xlarge has 16 GiB, less than the 16 GiB container + tmpfs + OS/agent.
    ['a GPU instance type whose memory cannot hold the task', { compute: { mode: 'ec2-gpu', instanceType: 'g5.xlarge' } }, /compute\.instanceType: g5\.xlarge has 16 GiB of memory; after 2048 MiB for the OS, Docker, the NVIDIA driver and the ECS agent, 14336 MiB are left, less than one task needs \(16384 MiB hard limit \+ 1 x 1024 MiB tmpfs = 17408 MiB\): use a 32 GiB type such as g5\.2xlarge or g6\.2xlarge/],
    ['a g6.xlarge (16 GiB)', { compute: { mode: 'ec2-gpu', instanceType: 'g6.xlarge' } }, /compute\.instanceType: g6\.xlarge has 16 GiB of memory/],
    ['a GPU instance type missing from the table', { compute: { mode: 'ec2-gpu', instanceType: 'g5.96xlarge' } }, /compute\.instanceType: g5\.96xlarge is not in the GPU instance table/],
    ['maxInstances that cannot hold a deployment at tasks.max', { compute: { mode: 'ec2-gpu', instanceType: 'g5.2xlarge', maxInstances: 3 }, tasks: { max: 2 } }, /compute\.maxInstances: must be at least 4: a deployment at tasks\.max \(2\) starts the new tasks before stopping the old \(maximumPercent 200\), 4 tasks at 1 per g5\.2xlarge/],
    ['maxInstances for a 4-GPU type counted per GPU', { compute: { mode: 'ec2-gpu', instanceType: 'g5.12xlarge', maxInstances: 1 }, tasks: { max: 4 } }, /compute\.maxInstances: must be at least 2: .*8 tasks at 4 per g5\.12xlarge/],
    ['a capability that does not exist', { container: { dropCapabilities: ['NET_RAW', 'ROOT'] } }, /container\.dropCapabilities/],
    ['an empty capability list', { container: { dropCapabilities: [] } }, /container\.dropCapabilities/],
    ['unknown scratch permissions', { container: { scratchPermissions: '777' } }, /container\.scratchPermissions/],
    ['a managed GPU instance family without an NVIDIA GPU', { compute: { mode: 'managed-gpu', allowedInstanceTypes: ['m5.*'] } }, /compute\.allowedInstanceTypes\.0: must be an x86_64 NVIDIA GPU instance type/],
    ['a managed GPU cpu that is not whole vCPUs', { compute: { mode: 'managed-gpu', cpu: 1500 } }, /compute\.cpu: must be a multiple of 1024/],
    ['a non-GPU instance type', { compute: { mode: 'ec2-gpu', instanceType: 'm5.xlarge' } }, /compute\.instanceType: must be an x86_64 GPU instance type/],
    ['a Graviton GPU instance type', { compute: { mode: 'ec2-gpu', instanceType: 'g5g.xlarge' } }, /compute\.instanceType/],
    ['maxInstances below minInstances', { compute: { mode: 'ec2-gpu', minInstances: 3, maxInstances: 2 } }, /compute\.maxInstances: must be at least minInstances \(3\)/],
    // ECS developer guide, "Configuring pre-initialized instances for your Amazon ECS Auto Scaling group" (using-warm-pool.html).
    ['reuseOnScaleIn on the warm pool of an ECS Auto Scaling group', { compute: { mode: 'ec2-gpu', warmPool: { minSize: 1, reuseOnScaleIn: true } } }, /compute\.warmPool\.reuseOnScaleIn: cannot be set: ECS does not support ReuseOnScaleIn[\s\S]*using-warm-pool\.html/],
    ['reuseOnScaleIn false on the warm pool (the field itself is refused)', { compute: { mode: 'ec2-gpu', warmPool: { reuseOnScaleIn: false } } }, /compute\.warmPool\.reuseOnScaleIn: cannot be set/],
    ['desired tasks outside min..max', { tasks: { min: 2, desired: 1, max: 4 } }, /tasks\.desired: must be between tasks\.min \(2\) and tasks\.max \(4\)/],
    ['a secret reference of no known shape', { activationKey: { name: 'x' } }, /activationKey: must be \{ "create": true/],
    ['a malformed secret ARN', { activationKey: { secretArn: 'my-secret' } }, /activationKey\.secretArn: must be a Secrets Manager secret ARN/],
    ['an external image that is not an ECR URI', { imageSupply: { mode: 'external', imageUri: 'docker.io/library/nginx:latest' } }, /imageSupply\.imageUri: must be an ECR image URI/],
    ['an unknown image supply mode', { imageSupply: { mode: 'docker-hub' } }, /imageSupply\.mode: must be "mirror", "pull-through" or "external"/],
    ['a bad schedule expression', { imageSupply: { mode: 'mirror', schedule: 'daily' } }, /imageSupply\.schedule: must be an EventBridge schedule expression/],
    ['a vendor registry that is not ECR', { vendorImage: { registry: 'registry.example.com' } }, /vendorImage\.registry: must be an ECR registry host/],
    ['an upper-case client name', { api: { clients: [{ name: 'Mobile' }] } }, /api\.clients\.0\.name: must be 1-32 lower-case letters/],
    ['the same client twice', { api: { clients: [{ name: 'web' }, { name: 'web' }] } }, /api\.clients: client name "web" is used twice/],
    ['a WAF rate limit under the WAF minimum', { api: { waf: { rateLimitPer5Minutes: 5 } } }, /api\.waf\.rateLimitPer5Minutes/],
    ['a certificate that is not an ACM ARN', { api: { customDomain: { domainName: 'face.example.com', certificateArn: 'cert' } } }, /api\.customDomain\.certificateArn: must be an ACM certificate ARN/],
    ['a hosted zone id without its name', { api: { customDomain: { domainName: 'face.example.com', certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/x', hostedZoneId: 'Z123' } } }, /api\.customDomain\.hostedZoneName: hostedZoneId and hostedZoneName go together/],
    ['an http JWT issuer', { jwt: { issuer: 'http://id.example.com', audience: ['a'] } }, /jwt\.issuer: must be an https URL/],
    ['a JWT without audience', { jwt: { issuer: 'https://id.example.com', audience: [] } }, /jwt\.audience/],
    ['a log retention CloudWatch does not offer', { logRetentionDays: 10 }, /logRetentionDays: must be one of 1, 3, 5/],
    ['more than 2 AZs without naming them', { network: { mode: 'new', azCount: 3 } }, /network\.availabilityZones: must be given when azCount is more than 2/],
    ['a region without AZ names (would need a lookup)', { env: { region: 'eu-west-1' } }, /network\.availabilityZones: must be given when env\.region is set/],
    ['AZs of another region', { env: { region: 'eu-west-1' }, network: { mode: 'new', azCount: 2, availabilityZones: ['us-east-1a', 'us-east-1b'] } }, /network\.availabilityZones: must be zones of env\.region \(eu-west-1\)/],
    ['an existing VPC with one subnet per two AZs', { network: { mode: 'existing', vpcId: 'vpc-0123456789abcdef0', vpcCidr: '10.0.0.0/16', subnetIds: ['subnet-0123456789abcdef0'], availabilityZones: ['eu-west-1a', 'eu-west-1b'], endpoints: false } }, /network\.subnetIds: must list one subnet per availability zone/],
    ['an existing VPC with endpoints but no route tables', { network: { mode: 'existing', vpcId: 'vpc-0123456789abcdef0', vpcCidr: '10.0.0.0/16', subnetIds: ['subnet-0123456789abcdef0'], availabilityZones: ['eu-west-1a'] } }, /network\.routeTableIds: must be given to attach the S3 gateway endpoint/],
    ['a malformed VPC id', { network: { mode: 'existing', vpcId: 'my-vpc', vpcCidr: '10.0.0.0/16', subnetIds: ['subnet-0123456789abcdef0'], availabilityZones: ['eu-west-1a'], endpoints: false } }, /network\.vpcId: must be a VPC id/],
    ['a score-table compare without its file', { compare: { mode: 'table' } }, /compare\.scoreTableFile/],
    ['a health check path that is not a path', { container: { healthCheckPath: 'swagger' } }, /container\.healthCheckPath: must be an absolute URL path/],
    ['a bad alarm e-mail', { alarms: { email: 'ops' } }, /alarms\.email: must be an e-mail address/],
  ];

  it.each(cases)('GIVEN %s WHEN parsed THEN the error names the field', (_name, input, message) => {
    expect(configError(input)).toMatch(message);
  });

  it('GIVEN api.cors origins WHEN parsed THEN origins are kept, and a path, an upper-case host or "*" among others is refused', () => {
    expect(parseConfig({}).api.cors.allowOrigins).toEqual([]);
    expect(parseConfig({ api: { cors: { allowOrigins: ['https://app.example.com', 'http://localhost:5173'] } } }).api.cors.allowOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(configError({ api: { cors: { allowOrigins: ['https://app.example.com/'] } } })).toMatch(/api\.cors\.allowOrigins\.0: must be "\*" or an origin/);
    expect(configError({ api: { cors: { allowOrigins: ['https://App.example.com'] } } })).toMatch(/api\.cors\.allowOrigins\.0/);
    expect(configError({ api: { cors: { allowOrigins: ['*', 'https://app.example.com'] } } })).toMatch(/api\.cors\.allowOrigins: must be \["\*"\] alone/);
  });

  it('GIVEN several bad fields WHEN parsed THEN every one is listed', () => {
    const message = configError({ stage: 'Prod', tasks: { max: 0 }, logRetentionDays: 2 });
    expect(message).toMatch(/stage: must be 1-20 lower-case/);
    expect(message).toMatch(/tasks\.max/);
    expect(message).toMatch(/logRetentionDays/);
  });
});

describe('loadConfig (cdk.json context + config/<stage>.json)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'face-config-'));
    mkdirSync(join(dir, 'config'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const context = (values: Record<string, unknown>) => (key: string) => values[key];

  it('GIVEN no context at all WHEN loaded THEN it is the default deployment', () => {
    expect(loadConfig({ getContext: context({}), projectDir: dir })).toEqual(parseConfig({}));
  });

  it('GIVEN -c stage=prod and config/prod.json WHEN loaded THEN the file is merged over cdk.json and the stage is set', () => {
    writeFileSync(join(dir, 'config', 'prod.json'), JSON.stringify({ compute: { mode: 'ec2-gpu', instanceType: 'g6.2xlarge' }, api: { throttle: { rateLimit: 5, burstLimit: 10 } } }));
    const config = loadConfig({
      getContext: context({ stage: 'prod', [CONFIG_CONTEXT_KEY]: { api: { docs: 'private', throttle: { rateLimit: 1, burstLimit: 2 } }, alarms: { email: 'ops@example.com' } } }),
      projectDir: dir,
    });
    expect(config.stage).toBe('prod');
    expect(config.compute).toMatchObject({ mode: 'ec2-gpu', instanceType: 'g6.2xlarge' });
    expect(config.api.docs).toBe('private');
    expect(config.api.throttle).toEqual({ rateLimit: 5, burstLimit: 10 });
    expect(config.alarms.email).toBe('ops@example.com');
  });

  it('GIVEN -c stage=nosuch and no config/nosuch.json WHEN loaded THEN it is refused, listing the known stages', () => {
    writeFileSync(join(dir, 'config', 'gpu.json'), '{}');
    writeFileSync(join(dir, 'config', 'prod.json'), '{}');
    expect(() => loadConfig({ getContext: context({ stage: 'nosuch' }), projectDir: dir })).toThrow(ConfigError);
    expect(() => loadConfig({ getContext: context({ stage: 'nosuch' }), projectDir: dir })).toThrow(
      /stage: "nosuch" has no config\/nosuch\.json; known stages: dev, gpu, prod/,
    );
  });

  it('GIVEN -c stage=dev (the default) and no config/dev.json WHEN loaded THEN the defaults are used under that stage', () => {
    expect(loadConfig({ getContext: context({ stage: 'dev' }), projectDir: dir }).stage).toBe('dev');
  });

  it('GIVEN a config file with a bad field WHEN loaded THEN the error names the field and the file', () => {
    writeFileSync(join(dir, 'config', 'bad.json'), JSON.stringify({ compute: { mode: 'fargate', cpu: 3000 } }));
    expect(() => loadConfig({ getContext: context({ stage: 'bad' }), projectDir: dir })).toThrow(/config\/bad\.json[\s\S]*compute\.cpu/);
  });

  it('GIVEN a config file that is not JSON WHEN loaded THEN the error says so', () => {
    writeFileSync(join(dir, 'config', 'broken.json'), '{ "stage": ');
    expect(() => loadConfig({ getContext: context({ stage: 'broken' }), projectDir: dir })).toThrow(/config\/broken\.json: is not valid JSON/);
  });

  it('GIVEN a stage name with a path in it WHEN loaded THEN it is refused before any file is read', () => {
    expect(() => loadConfig({ getContext: context({ stage: '../secrets' }), projectDir: dir })).toThrow(/stage: must be 1-20 lower-case/);
  });

  it('GIVEN a context value that is not an object WHEN loaded THEN the error names the context key', () => {
    expect(() => loadConfig({ getContext: context({ [CONFIG_CONTEXT_KEY]: 'fargate' }), projectDir: dir })).toThrow(/faceVerification: must be an object/);
  });
});

describe('compare.mode "table" needs a calibrated score table', () => {
  it('GIVEN a table file that does not exist WHEN parsed THEN the error names the field and the file', () => {
    expect(configError({ compare: { mode: 'table', scoreTableFile: 'config/no-such-table.json' } })).toMatch(/compare\.scoreTableFile: config\/no-such-table\.json does not exist/);
  });

  it('GIVEN the embedded engine\'s table (not calibrated against the vendor) WHEN parsed THEN it is refused', () => {
    expect(configError({ compare: { mode: 'table', scoreTableFile: 'local/engine/score-table.json' } })).toMatch(/compare\.scoreTableFile: local\/engine\/score-table\.json is not calibrated/);
  });

  it('GIVEN a file that is not a score table WHEN parsed THEN the table error is reported on the field', () => {
    expect(configError({ compare: { mode: 'table', scoreTableFile: 'package.json' } })).toMatch(/compare\.scoreTableFile: score table .*package\.json: format/);
  });

  it.each([
    ['no calibration record', { calibration: undefined }, /has no calibration record/],
    ['a failed verification', { calibration: { ...PASSED_CALIBRATION, verification: { ...PASSED_CALIBRATION.verification, mismatches: 3, passed: false } } }, /failed verification \(3 mismatches\)/],
    ['too few random pairs', { calibration: { ...PASSED_CALIBRATION, verification: { ...PASSED_CALIBRATION.verification, randomPairs: 200 } } }, /verified on 200 random pairs; at least 1000/],
    ['edge cases that differ', { calibration: { ...PASSED_CALIBRATION, verification: { ...PASSED_CALIBRATION.verification, edgeCasesMatch: false } } }, /answers edge cases differently/],
  ])('GIVEN a table marked calibrated but with %s WHEN parsed THEN synth refuses it', (_name, overrides, message) => {
    const file = writeCalibratedTable(overrides);
    expect(configError({ compare: { mode: 'table', scoreTableFile: file } })).toMatch(message);
  });

  it.each([
    ['no image digest', { calibration: { ...PASSED_CALIBRATION, imageDigest: null } }, /names no image digest .*npm run calibrate -- --stage/],
    ['a digest that is not sha256', { calibration: { ...PASSED_CALIBRATION, imageDigest: 'latest' } }, /names "latest" as its image digest/],
  ])('GIVEN a verified table with %s WHEN parsed THEN table mode is refused', (_name, overrides, message) => {
    const file = writeCalibratedTable(overrides);
    expect(configError({ compare: { mode: 'table', scoreTableFile: file } })).toMatch(message);
  });

  it('GIVEN an external image pinned by another digest than the table WHEN parsed THEN synth fails saying what to run', () => {
    const file = writeCalibratedTable();
    const other = `sha256:${'1'.repeat(64)}`;
    const imageUri = `111122223333.dkr.ecr.eu-west-1.amazonaws.com/vendor/face@${other}`;
    const message = configError({ imageSupply: { mode: 'external', imageUri }, compare: { mode: 'table', scoreTableFile: file } });
    expect(message).toMatch(new RegExp(`calibrated on image ${PASSED_CALIBRATION.imageDigest}, but the deployment would run ${other}`));
    expect(message).toMatch(/compare\.mode "forward" first, then run `npm run calibrate -- --stage <stage>/);
  });

  it('GIVEN an external image pinned by the table\'s digest WHEN parsed THEN it is accepted', () => {
    const file = writeCalibratedTable();
    const imageUri = `111122223333.dkr.ecr.eu-west-1.amazonaws.com/vendor/face@${PASSED_CALIBRATION.imageDigest}`;
    expect(parseConfig({ imageSupply: { mode: 'external', imageUri }, compare: { mode: 'table', scoreTableFile: file } }).compare.mode).toBe('table');
  });

  it('GIVEN a calibrated table WHEN parsed THEN it is accepted', () => {
    const file = writeCalibratedTable();
    expect(parseConfig({ compare: { mode: 'table', scoreTableFile: file } }).compare).toEqual({ mode: 'table', scoreTableFile: file, checkSchedule: 'rate(15 minutes)', checkRandomPairs: 32 });
  });

  it('GIVEN a live-check schedule that is not an EventBridge expression WHEN parsed THEN the field is named', () => {
    const file = writeCalibratedTable();
    expect(configError({ compare: { mode: 'table', scoreTableFile: file, checkSchedule: 'every 15 minutes' } })).toMatch(/compare\.checkSchedule: must be an EventBridge schedule expression/);
  });
});

describe('deepMerge', () => {
  it('merges objects key by key and replaces arrays and scalars', () => {
    expect(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, d: 2 })).toEqual({ a: { b: 1, c: [3] }, d: 2 });
    expect(deepMerge({ a: 1 }, undefined)).toEqual({ a: 1 });
  });
});

describe('the example files in config/', () => {
  const files = readdirSync(join(PROJECT_DIR, 'config')).filter((file) => file.endsWith('.json'));

  it('GIVEN the repository WHEN listing config/ THEN there are example stages', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('GIVEN config/%s WHEN loaded as its stage THEN it is valid', (file) => {
    const stage = file.replace(/\.json$/, '');
    expect(loadConfig({ getContext: (key) => (key === 'stage' ? stage : undefined) }).stage).toBe(stage);
  });
});
