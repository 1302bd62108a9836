/**
 * The VPC: private isolated subnets only (no NAT, no internet gateway), the
 * interface endpoints the service and the in-VPC functions need, the S3
 * gateway endpoint (ECR image layers live in S3), and flow logs.
 */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { NetworkConfig } from '../config.js';
import { acknowledgeControlTower } from '../control-tower.js';

export interface NetworkProps {
  /** A new VPC, or an existing one described by ids (no lookups). */
  readonly config: NetworkConfig;
  /** Retention of the flow-log group. */
  readonly logRetention: logs.RetentionDays;
  /**
   * Add the ECS agent endpoints (ecs, ecs-agent, ecs-telemetry): EC2 container
   * instances need them to register without internet access; Fargate does not.
   * @default false
   */
  readonly ecsAgentEndpoints?: boolean;
  /**
   * Add an X-Ray endpoint so that the in-VPC functions' trace segments leave the VPC.
   * @default true
   */
  readonly xrayEndpoint?: boolean;
}

/** Interface endpoints every deployment needs, by construct id. */
const CORE_ENDPOINTS: ReadonlyArray<[string, ec2.InterfaceVpcEndpointAwsService]> = [
  // The task's image pull: registry API + Docker registry API (layers come from S3).
  ['EcrApi', ec2.InterfaceVpcEndpointAwsService.ECR],
  ['EcrDocker', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
  // The container's awslogs driver (Lambda delivers its own logs outside the VPC).
  ['Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
  // ECS reads ACTIVATION_KEY from Secrets Manager at task start.
  ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
  // The proxy function invokes fetch-image (which runs outside the VPC).
  ['Lambda', ec2.InterfaceVpcEndpointAwsService.LAMBDA],
];

/** The network every other construct is placed in. */
export class Network extends Construct {
  /** The VPC (new or imported). */
  public readonly vpc: ec2.IVpc;
  /** The subnets workloads are placed in (private isolated). */
  public readonly subnets: ec2.SubnetSelection;
  /** The VPC's IPv4 CIDR as a literal (security group rules name it; no token). */
  public readonly cidr: string;
  /** Interface endpoints by construct id (empty when `endpoints` is off). */
  public readonly endpoints: Record<string, ec2.InterfaceVpcEndpoint> = {};

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const config = props.config;

    if (config.mode === 'new') {
      this.vpc = new ec2.Vpc(this, 'Vpc', {
        ipAddresses: ec2.IpAddresses.cidr(config.cidr),
        ...(config.availabilityZones ? { availabilityZones: config.availabilityZones } : { maxAzs: config.azCount }),
        natGateways: 0,
        subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 20 }],
        restrictDefaultSecurityGroup: true,
      });
      // aws-cdk-lib's singleton handler behind restrictDefaultSecurityGroup (created with the VPC).
      const restrictDefaultSg = Stack.of(this).node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
      if (restrictDefaultSg) {
        acknowledgeControlTower(restrictDefaultSg, 'CT.LAMBDA.PR.3', 'aws-cdk-lib\'s handler that strips the default security group\'s rules runs once while the VPC is created; it calls only the EC2 API and cannot sit in the VPC it configures.');
      }
    } else {
      this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: config.vpcId,
        vpcCidrBlock: config.vpcCidr,
        availabilityZones: config.availabilityZones,
        isolatedSubnetIds: config.subnetIds,
        isolatedSubnetRouteTableIds: config.routeTableIds,
      });
    }
    this.subnets = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    this.cidr = config.mode === 'new' ? config.cidr : config.vpcCidr;

    if (config.endpoints) {
      this.vpc.addGatewayEndpoint('S3', {
        service: ec2.GatewayVpcEndpointAwsService.S3,
        subnets: [this.subnets],
      });
      const interfaces = [...CORE_ENDPOINTS];
      if (props.xrayEndpoint ?? true) interfaces.push(['XRay', ec2.InterfaceVpcEndpointAwsService.XRAY]);
      if (props.ecsAgentEndpoints) {
        interfaces.push(
          ['Ecs', ec2.InterfaceVpcEndpointAwsService.ECS],
          ['EcsAgent', ec2.InterfaceVpcEndpointAwsService.ECS_AGENT],
          ['EcsTelemetry', ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY],
        );
      }
      for (const [endpointId, service] of interfaces) {
        const endpoint = this.vpc.addInterfaceEndpoint(endpointId, {
          service,
          subnets: this.subnets,
          privateDnsEnabled: true,
          open: false,
        });
        // HTTPS from the VPC's CIDR, where every caller sits (a literal, so cdk-nag can read the rule).
        endpoint.connections.allowFrom(ec2.Peer.ipv4(this.cidr), ec2.Port.tcp(443), 'HTTPS from the VPC');
        this.endpoints[endpointId] = endpoint;
      }
    }

    if (config.flowLogs) {
      const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
        retention: props.logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      new ec2.FlowLog(this, 'FlowLog', {
        resourceType: ec2.FlowLogResourceType.fromVpc(this.vpc),
        destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
        trafficType: ec2.FlowLogTrafficType.ALL,
      });
    }
  }
}
