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
import { CONTAINER_NAME, FaceService } from '../../lib/constructs/service.js';
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

  it('THEN every Linux capability is dropped and no Fargate-unsupported option is set', () => {
    const container = containerOf(json);
    expect(container.LinuxParameters.Capabilities).toEqual({ Drop: ['ALL'] });
    expect(container.LinuxParameters.Tmpfs).toBeUndefined();
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
    app = synth({ compute: { mode: 'ec2-gpu', instanceType: 'g6.xlarge', minInstances: 1, maxInstances: 3, warmPool: { minSize: 1 } } });
    template = app.template('service');
    json = app.json('service');
  });
  afterAll(() => app.cleanup());

  it('GIVEN ec2-gpu WHEN synthesized THEN the container asks for one GPU, keeps the 16 GiB hard limit and places on a soft reservation', () => {
    const container = containerOf(json);
    expect(container.ResourceRequirements).toEqual([{ Type: 'GPU', Value: '1' }]);
    expect(container.Memory).toBe(16384);
    expect(container.MemoryReservation).toBe(12288);
  });

  it('THEN --security-opt=no-new-privileges is set, capabilities are dropped and /tmp is a tmpfs', () => {
    const container = containerOf(json);
    expect(container.DockerSecurityOptions).toEqual(['no-new-privileges']);
    expect(container.ReadonlyRootFilesystem).toBe(true);
    expect(container.LinuxParameters.Capabilities).toEqual({ Drop: ['ALL'] });
    expect(container.LinuxParameters.Tmpfs).toEqual([{ ContainerPath: '/tmp', Size: 1024, MountOptions: ['nosuid', 'nodev', 'noexec'] }]);
    expect(container.Secrets.map((s: any) => s.Name)).toEqual(['ACTIVATION_KEY']);
  });

  it('THEN the launch template requires IMDSv2, uses the AL2023 GPU AMI and an encrypted gp3 root volume', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        InstanceType: 'g6.xlarge',
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
    expect(userData).toContain('echo ECS_WARM_POOL_CHECK=true >> /etc/ecs/ecs.config');
    expect(userData).toContain('ECS_CLUSTER=');
  });

  it('THEN an ASG capacity provider has managed scaling and managed termination protection', () => {
    template.hasResourceProperties('AWS::ECS::CapacityProvider', {
      AutoScalingGroupProvider: Match.objectLike({
        ManagedScaling: Match.objectLike({ Status: 'ENABLED', TargetCapacity: 100 }),
        ManagedTerminationProtection: 'ENABLED',
      }),
    });
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '1', MaxSize: '3', NewInstancesProtectedFromScaleIn: true });
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
});

describe('FaceService refuses impossible combinations', () => {
  function build(compute: ComputeConfig, tasks = parseConfig({}).tasks) {
    const app = new App({ context: cdkJsonContext() });
    const stack = new Stack(app, 'Test');
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    return new FaceService(stack, 'Face', {
      vpc,
      vpcCidr: '10.0.0.0/16',
      subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      compute,
      tasks,
      container: parseConfig({}).container,
      image: ecs.ContainerImage.fromRegistry('public.ecr.aws/example/image:1'),
      activationKey: new secretsmanager.Secret(stack, 'Key'),
      logRetention: logs.RetentionDays.ONE_WEEK,
    });
  }

  it('GIVEN a Fargate size that cannot hold 16 GiB WHEN built THEN it throws naming the size', () => {
    expect(() => build({ mode: 'fargate', cpu: 2048, memoryMiB: 8192, platformVersion: '1.4.0', ephemeralStorageGiB: 30 })).toThrow(/Fargate cpu 2048 with memory 8192 MiB cannot hold the 16 GiB container/);
  });

  it('GIVEN tasks.max below tasks.min WHEN built THEN it throws', () => {
    expect(() => build(parseConfig({}).compute, { ...parseConfig({}).tasks, min: 3, max: 2 })).toThrow(/tasks\.max \(2\) must be at least tasks\.min \(3\)/);
  });
});
