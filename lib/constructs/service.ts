/**
 * The vendor container on ECS behind an internal ALB: Fargate (CPU), an EC2
 * GPU Auto Scaling group capacity provider, or ECS Managed Instances with
 * NVIDIA GPUs. The task definition maps the guide's `docker run` flags
 * (facts.md): `--read-only` -> readonlyRootFilesystem, `--memory=16G` -> hard
 * memory 16384 MiB, `-p 8080:8080`, `-e ACTIVATION_KEY` -> an ECS secret from
 * Secrets Manager; on the EC2 GPU path also `--security-opt=no-new-privileges`
 * -> dockerSecurityOptions and `--pids-limit=128` -> ECS_TASK_PIDS_LIMIT in the
 * instance's ecs.config. Fargate has neither of the last two; neither does the
 * managed GPU path (no user data on instances AWS manages; docs/gpu.md).
 * Like the guide, no Linux capability is dropped unless
 * `container.dropCapabilities` asks for it.
 */
import { Duration, RemovalPolicy, Size, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  CONTAINER_MEMORY_LIMIT_MIB,
  DEPLOYMENT_MAX_HEALTHY_PERCENT,
  FARGATE_MEMORY_BY_CPU,
  GPU_INSTANCE_RESERVED_MIB,
  TMPFS_SIZE_MIB,
  gpuTasksPerInstance,
  type AppConfig,
  type ComputeConfig,
} from '../config.js';
import { acknowledgeControlTower } from '../control-tower.js';

/** The port the vendor container listens on (`-p 8080:8080/tcp`). */
export const CONTAINER_PORT = 8080;
/** The container's name in the task definition (the image mirror's CONTAINER_NAME). */
export const CONTAINER_NAME = 'face-verification-api';
/** The guide's `--pids-limit=128`, enforced by the ECS agent on EC2 (amazon-ecs-agent#3923). */
export const TASK_PIDS_LIMIT = 128;
/** Size of each tmpfs scratch mount on EC2 (MiB); it counts against the instance's memory. */
export { TMPFS_SIZE_MIB };
/** The init container that opens the scratch volumes to any user (`container.scratchPermissions: "world-writable"`). */
export const SCRATCH_INIT_CONTAINER_NAME = 'scratch-permissions';

export interface FaceServiceProps {
  readonly vpc: ec2.IVpc;
  /** The VPC's IPv4 CIDR (literal): the client group may reach its HTTPS endpoints. */
  readonly vpcCidr: string;
  /** Subnets for tasks, instances and the ALB. */
  readonly subnets: ec2.SubnetSelection;
  /** Fargate, EC2 GPU or managed GPU, with sizes. */
  readonly compute: ComputeConfig;
  /** Task counts and scaling targets. */
  readonly tasks: AppConfig['tasks'];
  /** Health check path, scratch directories and their permissions, capabilities to drop. */
  readonly container: AppConfig['container'];
  /** The container image (from ImageSupply). */
  readonly image: ecs.ContainerImage;
  /** Holds the vendor's activation key (becomes ACTIVATION_KEY). */
  readonly activationKey: secretsmanager.ISecret;
  /** Retention of the container log group. */
  readonly logRetention: logs.RetentionDays;
}

/** The ECS service, its load balancer and what callers need to reach it. */
export class FaceService extends Construct {
  public readonly cluster: ecs.Cluster;
  public readonly taskDefinition: ecs.TaskDefinition;
  public readonly container: ecs.ContainerDefinition;
  public readonly service: ecs.FargateService | ecs.Ec2Service;
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  public readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** Attach this group to a function to let it call the ALB (and the VPC's HTTPS endpoints). */
  public readonly clientSecurityGroup: ec2.SecurityGroup;
  /** `http://<internal ALB DNS name>`: the proxy's BACKEND_URL. */
  public readonly backendUrl: string;
  /** The container log group. */
  public readonly logGroup: logs.LogGroup;
  /** EC2 GPU only. */
  public readonly autoScalingGroup?: autoscaling.AutoScalingGroup;
  /** EC2 GPU only. */
  public readonly capacityProvider?: ecs.AsgCapacityProvider;
  /** Managed GPU only. */
  public readonly managedInstances?: ecs.ManagedInstancesCapacityProvider;
  /** `container.scratchPermissions: "world-writable"` on Fargate and managed GPU only. */
  public readonly scratchInit?: ecs.ContainerDefinition;

  constructor(scope: Construct, id: string, props: FaceServiceProps) {
    super(scope, id);
    const { compute, tasks, container, vpc, subnets } = props;
    if (tasks.max < tasks.min) throw new Error(`FaceService: tasks.max (${tasks.max}) must be at least tasks.min (${tasks.min}).`);
    if (compute.mode === 'fargate') {
      const range = FARGATE_MEMORY_BY_CPU[compute.cpu];
      if (!range || compute.memoryMiB < Math.max(range.min, CONTAINER_MEMORY_LIMIT_MIB) || compute.memoryMiB > range.max) {
        throw new Error(`FaceService: Fargate cpu ${compute.cpu} with memory ${compute.memoryMiB} MiB cannot hold the 16 GiB container.`);
      }
    }
    if (compute.mode === 'ec2-gpu' && gpuTasksPerInstance(compute.instanceType, container.scratchPaths.length) < 1) {
      throw new Error(`FaceService: ${compute.instanceType} cannot hold one task (16 GiB container + tmpfs + OS/agent reserve, or not in GPU_INSTANCE_TYPES); use e.g. g5.2xlarge.`);
    }

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
      enableFargateCapacityProviders: compute.mode === 'fargate',
    });

    this.logGroup = new logs.LogGroup(this, 'ContainerLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const serviceSecurityGroup = new ec2.SecurityGroup(this, 'TaskSecurityGroup', {
      vpc,
      description: 'Face verification tasks: inbound only from the internal ALB',
      // Outbound reaches only the VPC endpoints: the subnets have no route to the internet.
      allowAllOutbound: true,
    });

    // The guide's `docker run` drops no capability, and dropping ALL can crash-loop an entrypoint that chowns
    // files or switches user: Docker's default set stays unless the configuration asks for more hardening.
    const dropped = container.dropCapabilities === 'none' ? [] : container.dropCapabilities === 'all' ? [ecs.Capability.ALL] : container.dropCapabilities.map((name) => name as ecs.Capability);
    const linuxParameters = dropped.length > 0 || compute.mode === 'ec2-gpu' ? new ecs.LinuxParameters(this, 'LinuxParameters') : undefined;
    if (dropped.length > 0) linuxParameters!.dropCapabilities(...dropped);

    const containerOptions: ecs.ContainerDefinitionOptions = {
      containerName: CONTAINER_NAME,
      image: props.image,
      memoryLimitMiB: CONTAINER_MEMORY_LIMIT_MIB,
      readonlyRootFilesystem: true,
      portMappings: [{ containerPort: CONTAINER_PORT, protocol: ecs.Protocol.TCP, name: 'http' }],
      secrets: { ACTIVATION_KEY: ecs.Secret.fromSecretsManager(props.activationKey) },
      linuxParameters,
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: 'api',
        logGroup: this.logGroup,
        // Never block the application on CloudWatch Logs back-pressure.
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
    };

    if (compute.mode === 'fargate') {
      const taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
        cpu: compute.cpu,
        memoryLimitMiB: compute.memoryMiB,
        ephemeralStorageGiB: compute.ephemeralStorageGiB,
        // The vendor publishes an x86_64 image (assumed: the guide names no platform).
        runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      });
      this.taskDefinition = taskDefinition;
      this.container = taskDefinition.addContainer('Api', containerOptions);
      // Fargate has no tmpfs: scratch directories are task volumes on the task's ephemeral storage.
      this.scratchInit = this.addScratchVolumes(taskDefinition, container, containerOptions);
    } else if (compute.mode === 'managed-gpu') {
      // ECS Managed Instances (task compatibility MANAGED_INSTANCES): task-level cpu and memory size the
      // instance ECS picks; the container keeps the guide's 16 GiB hard limit.
      const taskDefinition = new ecs.TaskDefinition(this, 'TaskDefinition', {
        compatibility: ecs.Compatibility.MANAGED_INSTANCES,
        networkMode: ecs.NetworkMode.AWS_VPC,
        cpu: String(compute.cpu),
        memoryMiB: String(CONTAINER_MEMORY_LIMIT_MIB),
        runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      });
      this.taskDefinition = taskDefinition;
      this.container = taskDefinition.addContainer('Api', { ...containerOptions, gpuCount: 1 });
      // Scratch directories are task bind volumes on the instance's task storage, as on Fargate (tmpfs and
      // dockerSecurityOptions are not set here: docs/gpu.md, "What the managed GPU path cannot do").
      this.scratchInit = this.addScratchVolumes(taskDefinition, container, containerOptions);
      this.managedInstances = this.createManagedGpuCapacity(compute, vpc, subnets);
    } else {
      const taskDefinition = new ecs.Ec2TaskDefinition(this, 'TaskDefinition', {
        networkMode: ecs.NetworkMode.AWS_VPC,
      });
      this.taskDefinition = taskDefinition;
      // A tmpfs mount's root is mode 1777 unless a mode option narrows it (Linux kernel tmpfs documentation;
      // Docker's --tmpfs default): writable by a non-root image too.
      linuxParameters!.addTmpfs(
        ...container.scratchPaths.map((path) => ({
          containerPath: path,
          size: TMPFS_SIZE_MIB,
          mountOptions: [ecs.TmpfsMountOption.NOSUID, ecs.TmpfsMountOption.NODEV, ecs.TmpfsMountOption.NOEXEC],
        })),
      );
      this.container = taskDefinition.addContainer('Api', {
        ...containerOptions,
        // Placement reserves the soft reservation (default: the full hard limit; the schema only accepts
        // instance types whose memory holds the task).
        memoryReservationMiB: Math.min(compute.memoryReservationMiB, CONTAINER_MEMORY_LIMIT_MIB),
        gpuCount: 1,
        dockerSecurityOptions: ['no-new-privileges'],
      });
      // aws-cdk-lib adds AWS_REGION (a non-secret) to awsvpc containers on EC2; nothing else is an environment variable.
      Validations.of(taskDefinition).acknowledge({
        id: 'AwsSolutions-ECS2',
        reason: 'The only environment variable is AWS_REGION, which aws-cdk-lib adds to awsvpc containers on EC2; ACTIVATION_KEY is an ECS secret from Secrets Manager.',
      });
      const { asg, capacityProvider } = this.createGpuCapacity(compute, vpc, subnets);
      this.autoScalingGroup = asg;
      this.capacityProvider = capacityProvider;
    }

    const baseServiceProps = {
      cluster: this.cluster,
      desiredCount: tasks.desired,
      vpcSubnets: subnets,
      securityGroups: [serviceSecurityGroup],
      circuitBreaker: { enable: true, rollback: true },
      // Never fewer healthy tasks than desired during a deployment; new tasks start first (the schema checks
      // that an EC2 GPU group's maxInstances holds tasks.max at this percentage).
      minHealthyPercent: 100,
      maxHealthyPercent: DEPLOYMENT_MAX_HEALTHY_PERCENT,
      healthCheckGracePeriod: Duration.seconds(tasks.healthCheckGracePeriodSeconds),
      propagateTags: ecs.PropagatedTagSource.SERVICE,
    };
    if (compute.mode === 'fargate') {
      this.service = new ecs.FargateService(this, 'Service', {
        ...baseServiceProps,
        taskDefinition: this.taskDefinition,
        assignPublicIp: false,
        platformVersion: compute.platformVersion === 'LATEST' ? ecs.FargatePlatformVersion.LATEST : ecs.FargatePlatformVersion.VERSION1_4,
      });
      if (compute.platformVersion !== 'LATEST') {
        acknowledgeControlTower(this.service, 'CT.ECS.PR.1', `The Fargate platform version is pinned to ${compute.platformVersion} by configuration (compute.platformVersion).`);
      }
    } else if (compute.mode === 'managed-gpu') {
      // aws-cdk-lib runs MANAGED_INSTANCES task definitions with FargateService and a capacity provider strategy
      // (aws-ecs README, "Managed Instances Capacity Providers"); no launch type, no platform version.
      this.service = new ecs.FargateService(this, 'Service', {
        ...baseServiceProps,
        taskDefinition: this.taskDefinition,
        assignPublicIp: false,
        capacityProviderStrategies: [{ capacityProvider: this.managedInstances!.capacityProviderName, weight: 1 }],
      });
      // The service needs the capacity provider attached to the cluster first.
      this.service.node.addDependency(this.cluster);
    } else {
      this.service = new ecs.Ec2Service(this, 'Service', {
        ...baseServiceProps,
        taskDefinition: this.taskDefinition,
        capacityProviderStrategies: [{ capacityProvider: this.capacityProvider!.capacityProviderName, weight: 1 }],
        placementStrategies: [ecs.PlacementStrategy.spreadAcross(ecs.BuiltInAttributes.AVAILABILITY_ZONE)],
      });
      // The service needs the capacity provider attached to the cluster first.
      this.service.node.addDependency(this.cluster);
    }

    const albSecurityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc,
      description: 'Internal ALB: inbound only from the API functions',
      allowAllOutbound: false,
    });
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc,
      vpcSubnets: subnets,
      internetFacing: false,
      securityGroup: albSecurityGroup,
      dropInvalidHeaderFields: true,
      // Above the proxy's 25 s backend timeout so the proxy, not the ALB, decides.
      idleTimeout: Duration.seconds(60),
    });
    acknowledgeControlTower(this.loadBalancer, 'CT.ELASTICLOADBALANCING.PR.5', 'The internal ALB holds no data and is recreated in minutes; deletion protection would make a rolled-back first create and `cdk destroy` stop at DELETE_FAILED (ELB user guide, "Deletion protection").');
    acknowledgeControlTower(this.loadBalancer, 'CT.ELASTICLOADBALANCING.PR.6', 'Internal ALB reachable only from the proxy/compare functions; every request is already in the API Gateway JSON access log and the functions\' logs. ALB access logs need an S3 bucket with SSE-S3 only (ELB user guide, "Access logs"), itself failing the S3 controls.');
    Validations.of(this.loadBalancer).acknowledge({
      id: 'AwsSolutions-ELB2',
      reason: 'Internal ALB reachable only from the proxy/compare functions; every request is already in the API Gateway JSON access log and the functions\' logs (access logs to S3 would add a bucket and duplicate them).',
    });
    const listener = this.loadBalancer.addListener('Http', {
      port: 80,
      protocol: elbv2.ApplicationProtocol.HTTP,
      open: false,
    });
    acknowledgeControlTower(listener, 'CT.ELASTICLOADBALANCING.PR.1', 'Internal listener inside the VPC (isolated subnets, security group open only to the API functions); HTTPS would need a certificate for the ALB\'s internal name, i.e. an ACM private CA. Clients reach the API over HTTPS at API Gateway.');
    this.targetGroup = listener.addTargets('Api', {
      port: CONTAINER_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.service.loadBalancerTarget({ containerName: CONTAINER_NAME, containerPort: CONTAINER_PORT })],
      healthCheck: {
        path: container.healthCheckPath,
        healthyHttpCodes: '200',
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
      deregistrationDelay: Duration.seconds(30),
    });

    this.clientSecurityGroup = new ec2.SecurityGroup(this, 'ClientSecurityGroup', {
      vpc,
      description: 'API functions in the VPC: to the internal ALB and to the VPC endpoints',
      allowAllOutbound: false,
    });
    this.loadBalancer.connections.allowFrom(this.clientSecurityGroup, ec2.Port.tcp(80), 'API functions to the internal ALB');
    // HTTPS to the interface endpoints (Lambda for fetch-image, X-Ray), which sit in the VPC's CIDR.
    this.clientSecurityGroup.addEgressRule(ec2.Peer.ipv4(props.vpcCidr), ec2.Port.tcp(443), 'VPC interface endpoints');
    this.backendUrl = `http://${this.loadBalancer.loadBalancerDnsName}`;

    const scaling = this.service.autoScaleTaskCount({ minCapacity: tasks.min, maxCapacity: tasks.max });
    // Requests per target reflect the work a task does on any compute, GPU included (docs/gpu.md says how to
    // calibrate requestsPerTarget).
    scaling.scaleOnRequestCount('Requests', {
      requestsPerTarget: tasks.requestsPerTarget,
      targetGroup: this.targetGroup,
      scaleInCooldown: Duration.minutes(5),
      scaleOutCooldown: Duration.minutes(1),
    });
    if (compute.mode === 'fargate') {
      // Fargate only: ECS computes service CPU % from the task's CPU units, which a GPU task does not reserve,
      // so on GPU compute the requests policy is the only one (with two target-tracking policies, scale-in
      // needs both to agree: Application Auto Scaling user guide, "Target tracking scaling policies").
      scaling.scaleOnCpuUtilization('Cpu', {
        targetUtilizationPercent: tasks.cpuTargetPercent,
        scaleInCooldown: Duration.minutes(5),
        scaleOutCooldown: Duration.minutes(1),
      });
    }

    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken (image pull) is account-wide and supports no resource-level permission.',
    });
    acknowledgeControlTower(this.taskDefinition, 'CT.ECS.PR.3', 'The vendor guide\'s `docker run` sets no --user and the image\'s own user is not documented; forcing a UID could stop the entrypoint. The container keeps a read-only root file system, and on EC2 no-new-privileges.');
  }

  /**
   * Scratch directories as task bind volumes (Fargate, Managed Instances). ECS creates them owned by root, mode
   * 0755 (ECS developer guide, "Bind mounts"); with `scratchPermissions: "world-writable"` an init container
   * runs `chmod 1777` on them as root before the API container starts (it needs chmod in the image).
   */
  private addScratchVolumes(taskDefinition: ecs.TaskDefinition, container: AppConfig['container'], options: ecs.ContainerDefinitionOptions): ecs.ContainerDefinition | undefined {
    const mounts = container.scratchPaths.map((path, index) => ({ sourceVolume: `scratch-${index}`, containerPath: path, readOnly: false }));
    for (const mount of mounts) taskDefinition.addVolume({ name: mount.sourceVolume });
    this.container.addMountPoints(...mounts);
    if (container.scratchPermissions !== 'world-writable' || mounts.length === 0) return undefined;
    const init = taskDefinition.addContainer('ScratchPermissions', {
      containerName: SCRATCH_INIT_CONTAINER_NAME,
      image: options.image,
      essential: false,
      // Root only for this one command: the volumes are root-owned until it runs.
      user: '0',
      entryPoint: ['chmod', '1777', ...container.scratchPaths],
      readonlyRootFilesystem: true,
      logging: options.logging,
    });
    init.addMountPoints(...mounts);
    this.container.addContainerDependencies({ container: init, condition: ecs.ContainerDependencyCondition.SUCCESS });
    return init;
  }

  /**
   * ECS Managed Instances with one NVIDIA GPU or more, in the service's subnets. What this path cannot do
   * (docs/gpu.md): no `--pids-limit=128` (it lives in the instance's ecs.config and Managed Instances take no
   * user data), no `no-new-privileges` (dockerSecurityOptions is documented for EC2 only; not set rather than
   * risk a task definition that does not register), no tmpfs, no warm pool, no custom AMI.
   */
  private createManagedGpuCapacity(compute: Extract<ComputeConfig, { mode: 'managed-gpu' }>, vpc: ec2.IVpc, subnets: ec2.SubnetSelection): ecs.ManagedInstancesCapacityProvider {
    const securityGroup = new ec2.SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc,
      description: 'ECS managed GPU instances: no inbound; tasks have their own ENIs',
      allowAllOutbound: true,
    });
    const provider = new ecs.ManagedInstancesCapacityProvider(this, 'ManagedInstances', {
      subnets: vpc.selectSubnets(subnets).subnets,
      securityGroups: [securityGroup],
      capacityOptionType: compute.capacity === 'spot' ? ecs.CapacityOptionType.SPOT : ecs.CapacityOptionType.ON_DEMAND,
      taskVolumeStorage: Size.gibibytes(compute.storageGiB),
      monitoring: ecs.InstanceMonitoring.DETAILED,
      propagateTags: ecs.PropagateManagedInstancesTags.CAPACITY_PROVIDER,
      instanceRequirements: {
        // An x86_64 image (the guide names no platform) on an instance with an NVIDIA GPU ...
        cpuManufacturers: [ec2.CpuManufacturer.INTEL, ec2.CpuManufacturer.AMD],
        acceleratorTypes: [ec2.AcceleratorType.GPU],
        acceleratorManufacturers: [ec2.AcceleratorManufacturer.NVIDIA],
        acceleratorCountMin: 1,
        allowedInstanceTypes: compute.allowedInstanceTypes,
        // ... whose memory holds the 16 GiB task plus the OS and agent (a 16 GiB g5.xlarge does not).
        memoryMin: Size.gibibytes(Math.ceil((CONTAINER_MEMORY_LIMIT_MIB + GPU_INSTANCE_RESERVED_MIB) / 1024)),
        vCpuCountMin: compute.cpu / 1024,
      },
    });
    this.cluster.addManagedInstancesCapacityProvider(provider);
    Validations.of(provider).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonECSInfrastructureRolePolicyForManagedInstances]',
      reason: 'ECS Managed Instances: the AWS-managed infrastructure policy is what ECS needs to launch, patch and terminate the instances, and the only policy whose built-in PassRole covers the ecsInstanceRole-prefixed instance profile (ECS developer guide, "Amazon ECS infrastructure IAM role").',
    });
    const instanceRole = provider.node.tryFindChild('InstanceRole');
    if (instanceRole) {
      Validations.of(instanceRole).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'aws-cdk-lib\'s default Managed Instances instance role: ecs:DiscoverPollEndpoint supports no resource-level permission (ECS developer guide, "Amazon ECS instance profile for Managed Instances").',
      });
      Validations.of(instanceRole).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:container-instance/*]',
        reason: 'The ECS agent polls and reports for its own container instance, whose id AWS assigns at launch; aws-cdk-lib scopes registration to this cluster.',
      });
    }
    return provider;
  }

  private createGpuCapacity(compute: Extract<ComputeConfig, { mode: 'ec2-gpu' }>, vpc: ec2.IVpc, subnets: ec2.SubnetSelection) {
    const role = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'ECS container instances (GPU)',
    });
    const securityGroup = new ec2.SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc,
      description: 'ECS GPU container instances: no inbound; tasks have their own ENIs',
      allowAllOutbound: true,
    });
    const userData = ec2.UserData.forLinux();
    userData.addCommands(
      // --pids-limit=128 (docker run in the vendor guide), applied by the agent to every task.
      `echo ECS_TASK_PIDS_LIMIT=${TASK_PIDS_LIMIT} >> /etc/ecs/ecs.config`,
      // Tasks (awsvpc) must not read the instance role's credentials from IMDS.
      'echo ECS_AWSVPC_BLOCK_IMDS=true >> /etc/ecs/ecs.config',
      'echo ECS_ENABLE_GPU_SUPPORT=true >> /etc/ecs/ecs.config',
      // The agent keeps warm-pool instances from registering until they enter service; the variable is
      // ECS_WARM_POOLS_CHECK (ECS developer guide, "Configuring pre-initialized instances ...", using-warm-pool.html).
      ...(compute.warmPool ? ['echo ECS_WARM_POOLS_CHECK=true >> /etc/ecs/ecs.config'] : []),
    );
    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      // Resolved at deploy time from the public SSM parameter (no synth lookup).
      machineImage: ecs.EcsOptimizedImage.amazonLinux2023(ecs.AmiHardwareType.GPU),
      instanceType: new ec2.InstanceType(compute.instanceType),
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      role,
      securityGroup,
      userData,
      detailedMonitoring: true,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(compute.rootVolumeGiB, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            deleteOnTermination: true,
          }),
        },
      ],
    });
    const asg = new autoscaling.AutoScalingGroup(this, 'Instances', {
      vpc,
      vpcSubnets: subnets,
      launchTemplate,
      minCapacity: compute.minInstances,
      maxCapacity: compute.maxInstances,
      healthChecks: autoscaling.HealthChecks.ec2({ gracePeriod: Duration.minutes(5) }),
      defaultInstanceWarmup: Duration.minutes(5),
    });
    if (compute.warmPool) {
      asg.addWarmPool({
        minSize: compute.warmPool.minSize,
        poolState: autoscaling.PoolState.STOPPED,
        // No reuseOnScaleIn: ECS does not support it (using-warm-pool.html); the schema refuses it.
      });
    }
    const capacityProvider = new ecs.AsgCapacityProvider(this, 'CapacityProvider', {
      autoScalingGroup: asg,
      enableManagedScaling: true,
      // Off: managed termination protection makes deleting the group hang (scale-in-protected instances are
      // never released), including the rollback of a failed first create and `cdk destroy`
      // (github.com/aws/aws-cdk/issues/18179). Managed draining protects running tasks instead: on scale-in ECS
      // drains an instance's tasks (replacing them elsewhere) before the group terminates it (ECS developer
      // guide, "Safely stop Amazon ECS workloads running on EC2 instances", managed-instance-draining.html).
      enableManagedTerminationProtection: false,
      enableManagedDraining: true,
      targetCapacityPercent: 100,
      machineImageType: ecs.MachineImageType.AMAZON_LINUX_2,
    });
    this.cluster.addAsgCapacityProvider(capacityProvider);

    acknowledgeControlTower(asg, 'CT.AUTOSCALING.PR.1', 'The group spans one private subnet per availability zone of the network (VPCZoneIdentifier; 2 zones by default); the rule only reads the AvailabilityZones property, which CloudFormation needs only without VPCZoneIdentifier.');
    acknowledgeControlTower(asg, 'CT.AUTOSCALING.PR.6', 'One GPU instance type, chosen in compute.instanceType so that its GPU and memory hold the task; other types would need their own sizing and calibration.');
    Validations.of(asg).acknowledge({
      id: 'AwsSolutions-AS3',
      reason: 'ECS managed scaling drives this group; task health, unhealthy targets and ECS CPU/memory alarms notify the alarm topic instead of per-instance scaling notifications.',
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Action::ecs:Submit*]',
      reason: 'aws-cdk-lib\'s ECS instance policy: the agent reports container and task state changes (ecs:SubmitContainerStateChange, SubmitTaskStateChange, ...) for this cluster.',
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'The ECS agent\'s registration and polling calls (ecs:DiscoverPollEndpoint, ecs:Poll, ecr:GetAuthorizationToken, logs) support no resource-level permission; aws-cdk-lib scopes the rest to this cluster.',
    });
    return { asg, capacityProvider };
  }
}
