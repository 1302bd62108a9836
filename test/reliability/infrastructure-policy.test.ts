/**
 * Suite 6, infrastructure policy: the promises README makes about the deployment,
 * checked over every synthesized template of several configurations (beyond cdk-nag).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { AppConfigInput } from '../../lib/config.js';
import { synth, type Synthesized } from '../lib/synth.js';
import { writeCalibratedTable } from '../lib/calibrated-table.js';

type Resources = Record<string, { Type: string; Properties?: Record<string, any> }>;

const CONFIGS: Record<string, AppConfigInput> = {
  'default (Fargate, mirror)': {},
  'EC2 GPU, pull-through, JWT with a Bearer client, custom domain, table compare': {
    compute: { mode: 'ec2-gpu', instanceType: 'g5.2xlarge' },
    imageSupply: { mode: 'pull-through' },
    jwt: { issuer: 'https://login.example.com', audience: ['face-api'], clients: [{ name: 'partner', claimValue: 'partner-portal' }] },
    api: { customDomain: { domainName: 'faces.example.com', certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' } },
    compare: { mode: 'table', scoreTableFile: writeCalibratedTable() },
  },
  'external image, private docs, two clients': {
    imageSupply: { mode: 'external', imageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/face:1' },
    api: { docs: 'private', clients: [{ name: 'web' }, { name: 'mobile' }] },
  },
};

describe.each(Object.entries(CONFIGS))('infrastructure policy: %s', (_name, input) => {
  const built: Synthesized = synth(input as AppConfigInput);
  afterAll(() => built.cleanup());
  const all: Resources = Object.assign({}, ...(['foundation', 'service', 'api'] as const).map((s) => built.json(s).Resources as Resources));
  const ofType = (type: string) => Object.entries(all).filter(([, r]) => r.Type === type);
  const text = JSON.stringify(['foundation', 'service', 'api'].map((s) => built.json(s as 'api')));

  it('gives tasks and instances no public IP, and has no NAT or internet gateway', () => {
    for (const [, svc] of ofType('AWS::ECS::Service')) {
      expect(svc.Properties?.NetworkConfiguration?.AwsvpcConfiguration?.AssignPublicIp ?? 'DISABLED').toBe('DISABLED');
    }
    for (const [, lt] of ofType('AWS::EC2::LaunchTemplate')) {
      for (const ni of lt.Properties?.LaunchTemplateData?.NetworkInterfaces ?? []) expect(ni.AssociatePublicIpAddress).not.toBe(true);
    }
    for (const [, subnet] of ofType('AWS::EC2::Subnet')) expect(subnet.Properties?.MapPublicIpOnLaunch).not.toBe(true);
    expect(ofType('AWS::EC2::NatGateway')).toHaveLength(0);
    expect(ofType('AWS::EC2::InternetGateway')).toHaveLength(0);
    for (const [, lb] of ofType('AWS::ElasticLoadBalancingV2::LoadBalancer')) expect(lb.Properties?.Scheme).toBe('internal');
  });

  it('gives every log group a retention and a customer-managed KMS key with rotation', () => {
    const groups = ofType('AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThan(3);
    for (const [id, group] of groups) {
      expect(group.Properties?.RetentionInDays, id).toBeGreaterThan(0);
      expect(group.Properties?.KmsKeyId, id).toBeDefined();
    }
    for (const [, key] of ofType('AWS::KMS::Key')) expect(key.Properties?.EnableKeyRotation).toBe(true);
  });

  it('references every secret and never inlines one', () => {
    for (const [id, secret] of ofType('AWS::SecretsManager::Secret')) expect(secret.Properties?.SecretString, id).toBeUndefined();
    for (const [, task] of ofType('AWS::ECS::TaskDefinition')) {
      for (const container of task.Properties?.ContainerDefinitions ?? []) {
        const names = (container.Environment ?? []).map((e: { Name: string }) => e.Name);
        expect(names).not.toContain('ACTIVATION_KEY');
        expect(container.Secrets?.map((s: { Name: string }) => s.Name) ?? []).toContain('ACTIVATION_KEY');
      }
    }
    for (const [, key] of ofType('AWS::ApiGateway::ApiKey')) {
      const value = key.Properties?.Value;
      if (value !== undefined) expect(JSON.stringify(value)).toMatch(/resolve:secretsmanager/);
    }
    for (const [, fn] of ofType('AWS::Lambda::Function')) {
      for (const name of Object.keys(fn.Properties?.Environment?.Variables ?? {})) expect(name).not.toMatch(/SECRET_VALUE|ACCESS_KEY|PASSWORD|ACTIVATION_KEY$/);
    }
    expect(text).not.toMatch(/AKIA[0-9A-Z]{16}/);
  });

  it('requires an API key (through the authorizer) on every POST method: the vendor\'s three and the two extensions', () => {
    const posts = ofType('AWS::ApiGateway::Method').filter(([, m]) => m.Properties?.HttpMethod === 'POST');
    const resources = new Map(ofType('AWS::ApiGateway::Resource').map(([id, r]) => [id, r.Properties?.PathPart as string]));
    const paths = posts.map(([, m]) => resources.get((m.Properties?.ResourceId as { Ref: string }).Ref));
    expect(paths.sort()).toEqual(['compare-face-embeddings', 'compare-face-embeddings-batch', 'detect-faces', 'get-face-embeddings', 'verify-faces']);
    for (const [, method] of posts) {
      expect(method.Properties?.ApiKeyRequired).toBe(true);
      expect(method.Properties?.AuthorizationType).toBe('CUSTOM');
    }
    const [, api] = ofType('AWS::ApiGateway::RestApi')[0]!;
    expect(api.Properties?.ApiKeySourceType).toBe('AUTHORIZER');
  });

  it('associates the WAF web ACL with the stage', () => {
    const associations = ofType('AWS::WAFv2::WebACLAssociation');
    expect(associations).toHaveLength(1);
    expect(JSON.stringify(associations[0]![1].Properties?.ResourceArn)).toMatch(/restapis/);
    const [, acl] = ofType('AWS::WAFv2::WebACL')[0]!;
    expect(acl.Properties?.Scope).toBe('REGIONAL');
  });

  it('serves clients over TLS only (regional execute-api endpoint; TLS 1.2 on a custom domain)', () => {
    const [, api] = ofType('AWS::ApiGateway::RestApi')[0]!;
    expect(api.Properties?.EndpointConfiguration?.Types).toEqual(['REGIONAL']);
    expect(api.Properties?.DisableExecuteApiEndpoint ?? false).toBe(false);
    for (const [, domain] of ofType('AWS::ApiGateway::DomainName')) expect(domain.Properties?.SecurityPolicy).toBe('TLS_1_2');
    for (const [, listener] of ofType('AWS::ElasticLoadBalancingV2::Listener')) {
      // Plain HTTP only inside the VPC: the ALB is internal (checked above) and reachable from the proxy function's security group.
      expect(['HTTP', 'HTTPS']).toContain(listener.Properties?.Protocol);
    }
  });
});
