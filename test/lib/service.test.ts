/**
 * FaceService: the guide's docker run flags on ECS, the internal ALB, scaling and
 * deployment safety, for Fargate (default) and EC2 GPU.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type ComputeConfig } from '../../lib/config.js';
import { CONTAINER_NAME, FaceService, SCRATCH_INIT_CONTAINER_NAME } from '../../lib/constructs/service.js';
import { cdkJsonContext, resourcesOfType, synth, type Synthesized } from './synth.js';

function containerOf(template: Record<string, any>): Record<string, any> {
  const [[, taskDefinition]] = resourcesOfType(template, 'AWS::ECS::TaskDefinition');
  const containers = taskDefinition.Properties.ContainerDefinitions;
  expect(containers).toHaveLength(1);
  return containers[0];
}

describe('FaceService on Fargate (default configuration)', () => {
  let app: Synthesized;
  let template: Template;
  let json: Record<string, any>;
  beforeAll(() => {
    app = synth({ tasks: { min: 1, desired: 2, max: 5, requestsPerTarget: 90, cpuTargetPercent: 55 } });
    template = app.template('service');
    json = app.json('service');
  });
  afterAll(() => app.cleanup());

  it('GIVEN the default config WHEN synthesized THEN the container maps --read-only, --memory=16G and -p 8080', () => {
    const container = containerOf(json);
    expect(container.Name).toBe(CONTAINER_NAME);
    expect(container.ReadonlyRootFilesystem).toBe(true);
    expect(container.Memory).toBe(16384);
    expect(container.PortMappings).toEqual([{ ContainerPort: 8080, Name: 'http', Protocol: 'tcp' }]);
  });

  it('THEN ACTIVATION_KEY comes from Secrets Manager as an ECS secret, never as an environment value', () => {
    const container = containerOf(json);
    expect(container.Secrets).toEqual([{ Name: 'ACTIVATION_KEY', ValueFrom: expect.anything() }]);
    expect(JSON.stringify(container.ValueFrom ?? container.Secrets[0].ValueFrom)).toMatch(/ActivationKey/);
    expect(container.Environment ?? []).toEqual([]);
  });

  it('THEN, like the guide\'s docker run, no Linux capability is dropped (dropping ALL can crash-loop an entrypoint that chowns or switches user), and no Fargate-unsupported option is set', () => {
    const container = containerOf(json);
    expect(container.LinuxParameters).toBeUndefined();
    expect(container.DockerSecurityOptions).toBeUndefined();
  });

  it('THEN /tmp is a writable task volume (Fargate has no tmpfs) and nothing else is writable', () => {
    const container = containerOf(json);
    expect(container.MountPoints).toEqual([{ ContainerPath: '/tmp', ReadOnly: false, SourceVolume: 'scratch-0' }]);
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { Volumes: [{ Name: 'scratch-0' }] });
  });

  it('THEN the task is a valid Fargate size for the 16 GiB container on x86_64', () => {
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['FARGATE'],
      Cpu: '4096',
      Memory: '16384',
      NetworkMode: 'awsvpc',
      EphemeralStorage: { SizeInGiB: 30 },
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
    });
  });

  it('THEN container logs go to a log group with retention, non-blocking', () => {
    const container = containerOf(json);
    expect(container.LogConfiguration).toMatchObject({ LogDriver: 'awslogs', Options: { mode: 'non-blocking', 'awslogs-stream-prefix': 'api' } });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  it('THEN the cluster has Container Insights', () => {
    template.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
  });

  it('THEN the service keeps 100 % healthy during deployments and rolls back through the circuit breaker', () => {
    template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      // Control Tower CT.ECS.PR.1 wants LATEST (today 1.4.0).
      PlatformVersion: 'LATEST',
      DesiredCount: 2,
      DeploymentConfiguration: {
        MinimumHealthyPercent: 100,
        MaximumPercent: 200,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      },
      NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'DISABLED' } },
      HealthCheckGracePeriodSeconds: 300,
    });
  });

  it('THEN an internal ALB forwards port 80 to the container port with the Swagger health check', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internal',
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' }]),
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 8080,
      Protocol: 'HTTP',
      TargetType: 'ip',
      HealthCheckPath: '/swagger/index.html',
      Matcher: { HttpCode: '200' },
    });
  });

  it('THEN the ALB admits only the client security group and the tasks admit only the ALB', () => {
    const ingress = resourcesOfType(json, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties);
    expect(ingress).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ FromPort: 80, ToPort: 80, SourceSecurityGroupId: { 'Fn::GetAtt': [expect.stringMatching(/^FaceClientSecurityGroup/), 'GroupId'] } }),
        expect.objectContaining({ FromPort: 8080, ToPort: 8080, SourceSecurityGroupId: { 'Fn::GetAtt': [expect.stringMatching(/^FaceLoadBalancerSecurityGroup/), 'GroupId'] } }),
      ]),
    );
    for (const rule of ingress) expect(rule.CidrIp).toBeUndefined();
  });

  it('THEN tasks scale between min and max on ALB requests per target and on CPU', () => {
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 1, MaxCapacity: 5, ScalableDimension: 'ecs:service:DesiredCount' });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: Match.objectLike({ PredefinedMetricType: 'ALBRequestCountPerTarget' }),
        TargetValue: 90,
      }),
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
        TargetValue: 55,
      }),
    });
  });

  it('THEN no EC2 capacity exists', () => {
    template.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 0);
    template.resourceCountIs('AWS::ECS::CapacityProvider', 0);
  });
});

describe('FaceService on EC2 GPU (config/gpu.json-like)', () => {
  let app: Synthesized;
  let template: Template;
  let json: Record<string, any>;
  beforeAll(() => {
    app = synth({ compute: { mode: 'ec2-gpu', instanceType: 'g6.2xlarge', minInstances: 1, maxInstances: 4, warmPool: { minSize: 1 } }, tasks: { max: 2, requestsPerTarget: 75 } });
    template = app.template('service');
    json = app.json('service');
  });
  afterAll(() => app.cleanup());

  it('GIVEN ec2-gpu WHEN synthesized THEN the container asks for one GPU, keeps the 16 GiB hard limit and reserves all of it for placement (the 32 GiB instance holds it)', () => {
    const container = containerOf(json);
    expect(container.ResourceRequirements).toEqual([{ Type: 'GPU', Value: '1' }]);
    expect(container.Memory).toBe(16384);
    expect(container.MemoryReservation).toBe(16384);
  });

  it('THEN --security-opt=no-new-privileges is set, no capability is dropped (as in the guide) and /tmp is a tmpfs with no mode option (root mode 1777: writable by a non-root image)', () => {
    const container = containerOf(json);
    expect(container.DockerSecurityOptions).toEqual(['no-new-privileges']);
    expect(container.ReadonlyRootFilesystem).toBe(true);
    expect(container.LinuxParameters.Capabilities?.Drop).toBeUndefined();
    expect(container.LinuxParameters.Capabilities?.Add).toBeUndefined();
    // Linux kernel tmpfs documentation: the root's mode is 1777 unless a mode= option sets it; uid=/gid= would narrow it too.
    expect(container.LinuxParameters.Tmpfs).toEqual([{ ContainerPath: '/tmp', Size: 1024, MountOptions: ['nosuid', 'nodev', 'noexec'] }]);
    expect(container.Secrets.map((s: any) => s.Name)).toEqual(['ACTIVATION_KEY']);
  });

  it('THEN the launch template requires IMDSv2, uses the AL2023 GPU AMI and an encrypted gp3 root volume', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        InstanceType: 'g6.2xlarge',
        MetadataOptions: Match.objectLike({ HttpTokens: 'required' }),
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3', VolumeSize: 100, DeleteOnTermination: true } }],
        ImageId: { Ref: Match.stringLikeRegexp('SsmParameterValueawsserviceecsoptimizedamiamazonlinux2023gpu') },
      }),
    });
    const parameters = Object.values(json.Parameters as Record<string, any>).map((p) => p.Default);
    expect(parameters).toContain('/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id');
  });

  it('THEN the instance user data sets ECS_TASK_PIDS_LIMIT=128 (--pids-limit), blocks IMDS for tasks and joins the cluster', () => {
    const [[, launchTemplate]] = resourcesOfType(json, 'AWS::EC2::LaunchTemplate');
    const userData = JSON.stringify(launchTemplate.Properties.LaunchTemplateData.UserData);
    expect(userData).toContain('echo ECS_TASK_PIDS_LIMIT=128 >> /etc/ecs/ecs.config');
    expect(userData).toContain('echo ECS_AWSVPC_BLOCK_IMDS=true >> /etc/ecs/ecs.config');
    expect(userData).toContain('ECS_CLUSTER=');
  });

  it('THEN the warm pool agent variable is ECS_WARM_POOLS_CHECK, the documented name (ECS developer guide, using-warm-pool.html), never the ECS_WARM_POOL_CHECK typo', () => {
    const [[, launchTemplate]] = resourcesOfType(json, 'AWS::EC2::LaunchTemplate');
    const userData = JSON.stringify(launchTemplate.Properties.LaunchTemplateData.UserData);
    expect(userData).toContain('echo ECS_WARM_POOLS_CHECK=true >> /etc/ecs/ecs.config');
    expect(userData).not.toMatch(/ECS_WARM_POOL_CHECK/);
  });

  it('THEN the warm pool sets no ReuseOnScaleIn, which ECS does not support (using-warm-pool.html)', () => {
    const [[, pool]] = resourcesOfType(json, 'AWS::AutoScaling::WarmPool');
    expect(pool.Properties.InstanceReusePolicy).toBeUndefined();
  });

  // github.com/aws/aws-cdk/issues/18179: managed termination protection makes the group's deletion (cdk destroy, and
  // the rollback of a failed first create) hang; managed draining (ECS developer guide, managed-instance-draining.html)
  // keeps tasks safe on scale-in instead.
  it('THEN the ASG capacity provider has managed scaling and managed draining, and no managed termination protection (deletes and rollbacks finish)', () => {
    template.hasResourceProperties('AWS::ECS::CapacityProvider', {
      AutoScalingGroupProvider: Match.objectLike({
        ManagedScaling: Match.objectLike({ Status: 'ENABLED', TargetCapacity: 100 }),
        ManagedTerminationProtection: 'DISABLED',
        ManagedDraining: 'ENABLED',
      }),
    });
    const [[, group]] = resourcesOfType(json, 'AWS::AutoScaling::AutoScalingGroup');
    expect(group.Properties).toMatchObject({ MinSize: '1', MaxSize: '4' });
    // Scale-in protection on new instances is what keeps the deletion waiting forever.
    expect(group.Properties.NewInstancesProtectedFromScaleIn ?? false).toBe(false);
    template.hasResourceProperties('AWS::AutoScaling::WarmPool', { MinSize: 1, PoolState: 'Stopped' });
  });

  it('THEN the service runs on the capacity provider with the same deployment safety', () => {
    template.hasResourceProperties('AWS::ECS::Service', {
      CapacityProviderStrategy: [Match.objectLike({ Weight: 1 })],
      DeploymentConfiguration: { MinimumHealthyPercent: 100, MaximumPercent: 200, DeploymentCircuitBreaker: { Enable: true, Rollback: true } },
    });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { RequiresCompatibilities: ['EC2'], NetworkMode: 'awsvpc' });
  });

  it('THEN the network gets the ECS agent endpoints the instances need without internet', () => {
    const foundation = JSON.stringify(app.json('foundation'));
    expect(foundation).toContain('.ecs-agent');
    expect(foundation).toContain('.ecs-telemetry');
  });

  // A GPU task reserves no CPU units, so ECS service CPU % has no basis; with two target-tracking policies scale-in
  // needs both to agree (Application Auto Scaling user guide, "Target tracking scaling policies").
  it('THEN tasks scale on one target-tracking policy, ALB requests per target (the GPU work), and not on CPU', () => {
    const policies = resourcesOfType(json, 'AWS::ApplicationAutoScaling::ScalingPolicy').map(([, r]) => r.Properties);
    expect(policies).toHaveLength(1);
    expect(policies[0].TargetTrackingScalingPolicyConfiguration).toMatchObject({ PredefinedMetricSpecification: { PredefinedMetricType: 'ALBRequestCountPerTarget' }, TargetValue: 75 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 1, MaxCapacity: 2 });
  });
});

describe('FaceService on ECS Managed Instances with NVIDIA GPUs (config/gpu-managed.json-like)', () => {
  let app: Synthesized;
  let template: Template;
  let json: Record<string, any>;
  beforeAll(() => {
    app = synth({ compute: { mode: 'managed-gpu', allowedInstanceTypes: ['g5.2xlarge', 'g6.*'], capacity: 'spot', storageGiB: 120 }, tasks: { max: 3, requestsPerTarget: 60 } }, { nag: true });
    template = app.template('service');
    json = app.json('service');
  });
  afterAll(() => app.cleanup());

  it('GIVEN managed-gpu WHEN synthesized (with cdk-nag) THEN the task definition is MANAGED_INSTANCES, awsvpc, x86_64, sized for the 16 GiB container, with one GPU', () => {
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['MANAGED_INSTANCES'],
      NetworkMode: 'awsvpc',
      Cpu: '4096',
      Memory: '16384',
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
    });
    const container = containerOf(json);
    expect(container.ResourceRequirements).toEqual([{ Type: 'GPU', Value: '1' }]);
    expect(container.Memory).toBe(16384);
    expect(container.ReadonlyRootFilesystem).toBe(true);
    expect(container.Secrets.map((s: any) => s.Name)).toEqual(['ACTIVATION_KEY']);
    // Bind volumes, as on Fargate; nothing this path cannot apply is set (docs/gpu.md).
    expect(container.MountPoints).toEqual([{ ContainerPath: '/tmp', ReadOnly: false, SourceVolume: 'scratch-0' }]);
    expect(container.LinuxParameters).toBeUndefined();
    expect(container.DockerSecurityOptions).toBeUndefined();
  });

  it('THEN a Managed Instances capacity provider asks for an x86_64 instance with an NVIDIA GPU and the memory for the task, from the allowed types', () => {
    template.hasResourceProperties('AWS::ECS::CapacityProvider', {
      ManagedInstancesProvider: {
        InfrastructureRoleArn: Match.anyValue(),
        InstanceLaunchTemplate: Match.objectLike({
          CapacityOptionType: 'SPOT',
          Monitoring: 'DETAILED',
          StorageConfiguration: { StorageSizeGiB: 120 },
          InstanceRequirements: {
            AcceleratorCount: { Min: 1 },
            AcceleratorManufacturers: ['nvidia'],
            AcceleratorTypes: ['gpu'],
            AllowedInstanceTypes: ['g5.2xlarge', 'g6.*'],
            CpuManufacturers: ['intel', 'amd'],
            // 16384 MiB container + 2048 MiB OS/agent margin, rounded up to whole GiB: a 16 GiB type is never chosen.
            MemoryMiB: { Min: 18432 },
            VCpuCount: { Min: 4 },
          },
        }),
      },
    });
    // The infrastructure role ECS uses to launch and replace the instances, and the ecsInstanceRole-prefixed profile.
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'ecs.amazonaws.com' } })] }),
      ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonECSInfrastructureRolePolicyForManagedInstances']] }],
    });
    template.hasResourceProperties('AWS::IAM::InstanceProfile', { InstanceProfileName: Match.stringLikeRegexp('^ecsInstanceRole') });
  });

  it('THEN the service runs on that capacity provider with no launch type, the same deployment safety, and scales on requests per target only', () => {
    const [[, service]] = resourcesOfType(json, 'AWS::ECS::Service');
    expect(service.Properties.LaunchType).toBeUndefined();
    expect(service.Properties.CapacityProviderStrategy).toEqual([{ CapacityProvider: { Ref: expect.stringMatching(/^FaceManagedInstances/) }, Weight: 1 }]);
    expect(service.Properties.DeploymentConfiguration).toEqual({ MinimumHealthyPercent: 100, MaximumPercent: 200, DeploymentCircuitBreaker: { Enable: true, Rollback: true } });
    const policies = resourcesOfType(json, 'AWS::ApplicationAutoScaling::ScalingPolicy').map(([, r]) => r.Properties);
    expect(policies.map((p) => p.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType)).toEqual(['ALBRequestCountPerTarget']);
    template.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 0);
  });

  it('THEN the network gets the ECS agent endpoints the managed instances need without internet', () => {
    expect(JSON.stringify(app.json('foundation'))).toContain('.ecs-agent');
  });
});

describe('FaceService hardening options beyond the guide (container.dropCapabilities, container.scratchPermissions)', () => {
  let app: Synthesized;
  let json: Record<string, any>;
  beforeAll(() => {
    app = synth({ container: { dropCapabilities: ['NET_RAW', 'MKNOD'], scratchPermissions: 'world-writable', scratchPaths: ['/tmp', '/var/cache/face'] } });
    json = app.json('service');
  });
  afterAll(() => app.cleanup());

  it('GIVEN a capability list WHEN synthesized THEN exactly those are dropped', () => {
    const [[, taskDefinition]] = resourcesOfType(json, 'AWS::ECS::TaskDefinition');
    const api = taskDefinition.Properties.ContainerDefinitions.find((c: any) => c.Name === CONTAINER_NAME);
    expect(api.LinuxParameters.Capabilities).toEqual({ Drop: ['NET_RAW', 'MKNOD'] });
  });

  // ECS developer guide, "Bind mounts": Fargate bind volumes are created owned by root with mode 0755
  // (github.com/aws/containers-roadmap/issues/938), so a non-root image could not write its scratch paths.
  it('GIVEN scratchPermissions world-writable WHEN synthesized THEN a non-essential root init container chmods every scratch volume to 1777 and the API container waits for its success', () => {
    const [[, taskDefinition]] = resourcesOfType(json, 'AWS::ECS::TaskDefinition');
    const containers = taskDefinition.Properties.ContainerDefinitions;
    const init = containers.find((c: any) => c.Name === SCRATCH_INIT_CONTAINER_NAME);
    const api = containers.find((c: any) => c.Name === CONTAINER_NAME);
    expect(init).toMatchObject({ Essential: false, User: '0', EntryPoint: ['chmod', '1777', '/tmp', '/var/cache/face'], ReadonlyRootFilesystem: true });
    expect(init.Image).toEqual(api.Image);
    expect(init.MountPoints).toEqual(api.MountPoints);
    expect(api.MountPoints).toEqual([
      { ContainerPath: '/tmp', ReadOnly: false, SourceVolume: 'scratch-0' },
      { ContainerPath: '/var/cache/face', ReadOnly: false, SourceVolume: 'scratch-1' },
    ]);
    expect(api.DependsOn).toEqual([{ ContainerName: SCRATCH_INIT_CONTAINER_NAME, Condition: 'SUCCESS' }]);
    expect(api.User).toBeUndefined();
    expect(init.Secrets).toBeUndefined();
  });
});

describe('FaceService refuses impossible combinations', () => {
  function build(compute: ComputeConfig, tasks = parseConfig({}).tasks, container = parseConfig({}).container) {
    const app = new App({ context: cdkJsonContext() });
    const stack = new Stack(app, 'Test');
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    return new FaceService(stack, 'Face', {
      vpc,
      vpcCidr: '10.0.0.0/16',
      subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      compute,
      tasks,
      container,
      image: ecs.ContainerImage.fromRegistry('public.ecr.aws/example/image:1'),
      activationKey: new secretsmanager.Secret(stack, 'Key'),
      logRetention: logs.RetentionDays.ONE_WEEK,
    });
  }

  it('GIVEN a Fargate size that cannot hold 16 GiB WHEN built THEN it throws naming the size', () => {
    expect(() => build({ mode: 'fargate', cpu: 2048, memoryMiB: 8192, platformVersion: '1.4.0', ephemeralStorageGiB: 30 })).toThrow(/Fargate cpu 2048 with memory 8192 MiB cannot hold the 16 GiB container/);
  });

  it('GIVEN a 16 GiB GPU instance type (bypassing the schema) WHEN built THEN it throws naming the type', () => {
    const gpu = parseConfig({ compute: { mode: 'ec2-gpu' } }).compute;
    expect(() => build({ ...gpu, instanceType: 'g5.xlarge' } as ComputeConfig)).toThrow(/g5\.xlarge cannot hold one task/);
  });

  it('GIVEN dropCapabilities "all" WHEN built THEN the container drops ALL', () => {
    const face = build(parseConfig({}).compute, parseConfig({}).tasks, { ...parseConfig({}).container, dropCapabilities: 'all' });
    const rendered = Stack.of(face).resolve((face.taskDefinition.node.defaultChild as ecs.CfnTaskDefinition).containerDefinitions) as any[];
    expect(rendered[0].linuxParameters.capabilities).toEqual({ drop: ['ALL'] });
  });

  it('GIVEN tasks.max below tasks.min WHEN built THEN it throws', () => {
    expect(() => build(parseConfig({}).compute, { ...parseConfig({}).tasks, min: 3, max: 2 })).toThrow(/tasks\.max \(2\) must be at least tasks\.min \(3\)/);
  });
});
