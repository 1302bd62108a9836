/** Network construct: isolated subnets, no NAT, the endpoints the path needs, flow logs; new or existing VPC. */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type AppConfigInput } from '../../lib/config.js';
import { Network, type NetworkProps } from '../../lib/constructs/network.js';
import { cdkJsonContext } from './synth.js';

function networkTemplate(network: AppConfigInput['network'], extra: Partial<NetworkProps> = {}): Template {
  const app = new App({ context: cdkJsonContext() });
  const stack = new Stack(app, 'Test');
  new Network(stack, 'Network', { config: parseConfig({ network }).network, logRetention: logs.RetentionDays.ONE_MONTH, ...extra });
  return Template.fromStack(stack);
}

/** Interface endpoint service names in a template (`com.amazonaws.<region>.<service>` -> `<service>`). */
function interfaceEndpointServices(template: Template): string[] {
  const endpoints = template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } });
  // ServiceName is Fn::Join ['', ['com.amazonaws.', { Ref: AWS::Region }, '.ecr.api']] in an environment-agnostic stack.
  return Object.values(endpoints)
    .map((e: any) => e.Properties.ServiceName['Fn::Join'][1].filter((part: unknown) => typeof part === 'string').join(''))
    .map((name: string) => name.replace(/^com\.amazonaws\.\./, ''))
    .sort();
}

describe('Network: a new VPC (default)', () => {
  let template: Template;
  beforeAll(() => {
    template = networkTemplate({ mode: 'new', cidr: '10.40.0.0/16', azCount: 2 });
  });

  it('GIVEN the default network WHEN synthesized THEN the VPC has the configured CIDR', () => {
    template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.40.0.0/16' });
  });

  it('THEN there is no NAT gateway, no internet gateway and no public subnet', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.resourceCountIs('AWS::EC2::Subnet', 2);
    template.allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false });
    template.resourceCountIs('AWS::EC2::Route', 0);
  });

  it('THEN the interface endpoints for ECR (api, dkr), Logs, Secrets Manager, Lambda and X-Ray exist, with private DNS', () => {
    expect(interfaceEndpointServices(template)).toEqual(['ecr.api', 'ecr.dkr', 'lambda', 'logs', 'secretsmanager', 'xray']);
    const interfaces = template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } });
    for (const endpoint of Object.values(interfaces)) expect((endpoint as any).Properties.PrivateDnsEnabled).toBe(true);
  });

  it('THEN the S3 gateway endpoint serves the isolated route tables (ECR layers live in S3)', () => {
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith(['com.amazonaws.', '.s3'])] }),
      RouteTableIds: Match.arrayWith([Match.objectLike({ Ref: Match.stringLikeRegexp('privateSubnet1RouteTable') })]),
    });
  });

  it('THEN endpoint security groups admit HTTPS from the VPC CIDR only', () => {
    const groups = template.findResources('AWS::EC2::SecurityGroup');
    const ingress = Object.values(groups).flatMap((g: any) => g.Properties.SecurityGroupIngress ?? []);
    expect(ingress.length).toBe(6);
    for (const rule of ingress) expect(rule).toMatchObject({ CidrIp: '10.40.0.0/16', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' });
  });

  it('THEN flow logs of all traffic go to a log group with the configured retention', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });
});

describe('Network: options', () => {
  it('GIVEN ecsAgentEndpoints (EC2 GPU) WHEN synthesized THEN the ecs, ecs-agent and ecs-telemetry endpoints are added', () => {
    const template = networkTemplate({ mode: 'new' }, { ecsAgentEndpoints: true });
    expect(interfaceEndpointServices(template)).toEqual(expect.arrayContaining(['ecs', 'ecs-agent', 'ecs-telemetry']));
  });

  it('GIVEN endpoints and flow logs off WHEN synthesized THEN neither exists', () => {
    const template = networkTemplate({ mode: 'new', endpoints: false, flowLogs: false });
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    template.resourceCountIs('AWS::EC2::FlowLog', 0);
  });
});

describe('Network: an existing VPC given by ids (no lookups)', () => {
  let template: Template;
  beforeAll(() => {
    template = networkTemplate({
      mode: 'existing',
      vpcId: 'vpc-0123456789abcdef0',
      vpcCidr: '10.1.0.0/16',
      subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
      routeTableIds: ['rtb-0123456789abcdef0', 'rtb-0123456789abcdef1'],
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    });
  });

  it('GIVEN an existing VPC WHEN synthesized THEN no VPC or subnet is created', () => {
    template.resourceCountIs('AWS::EC2::VPC', 0);
    template.resourceCountIs('AWS::EC2::Subnet', 0);
  });

  it('THEN the endpoints go into the given subnets and route tables', () => {
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      VpcId: 'vpc-0123456789abcdef0',
      SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
    });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', RouteTableIds: ['rtb-0123456789abcdef0', 'rtb-0123456789abcdef1'] });
  });

  it('THEN the flow log is attached to the given VPC id and endpoint rules name the given CIDR', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceId: 'vpc-0123456789abcdef0' });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', { SecurityGroupIngress: [Match.objectLike({ CidrIp: '10.1.0.0/16', FromPort: 443 })] });
  });
});
