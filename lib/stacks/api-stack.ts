/**
 * API: the REST API with its functions, keys, usage plans and WAF, and the
 * dashboard and alarms that watch the whole path.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { LogEncryption } from '../constructs/log-encryption.js';
import type { AppConfig } from '../config.js';
import { FaceApi, pascal } from '../constructs/api.js';
import { Monitoring } from '../constructs/monitoring.js';
import type { FoundationStack } from './foundation-stack.js';
import { retentionDays } from './retention.js';
import type { ServiceStack } from './service-stack.js';

export interface ApiStackProps extends StackProps {
  readonly config: AppConfig;
  readonly foundation: FoundationStack;
  readonly service: ServiceStack;
}

export class ApiStack extends Stack {
  public readonly faceApi: FaceApi;
  public readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    new LogEncryption(this, 'LogEncryption');
    const { config, foundation, service } = props;
    const logRetention = retentionDays(config.logRetentionDays);

    this.faceApi = new FaceApi(this, 'Api', {
      config: config.api,
      jwt: config.jwt,
      compare: config.compare,
      imageFetch: config.imageFetch,
      vpc: foundation.network.vpc,
      subnets: foundation.network.subnets,
      backend: { url: service.face.backendUrl, clientSecurityGroup: service.face.clientSecurityGroup },
      logRetention,
    });

    const f = this.faceApi.functions;
    this.monitoring = new Monitoring(this, 'Monitoring', {
      alarmTopic: foundation.alarmTopic.topic,
      api: { stage: this.faceApi.api.deploymentStage, accessLogGroup: this.faceApi.accessLogGroup },
      service: { service: service.face.service, targetGroup: service.face.targetGroup },
      functions: [
        { label: 'Authorizer', fn: f.authorizer },
        { label: 'Proxy', fn: f.proxy },
        { label: 'FetchImage', fn: f.fetchImage },
        { label: 'Compare', fn: f.compare },
        ...(f.docs ? [{ label: 'Docs', fn: f.docs }] : []),
      ],
      thresholds: config.alarms,
      extraAlarms: service.imageSupply.mirrorAlarm ? [service.imageSupply.mirrorAlarm] : [],
    });

    new CfnOutput(this, 'ApiUrl', { value: this.faceApi.url, description: 'Base URL: POST <ApiUrl>v1/face-verification/detect-faces' });
    if (config.api.docs !== 'off') {
      new CfnOutput(this, 'SwaggerUrl', { value: `${this.faceApi.url}swagger/index.html`, description: 'Swagger UI' });
    }
    if (this.faceApi.domainName) {
      new CfnOutput(this, 'ExecuteApiUrl', { value: this.faceApi.api.url, description: 'The execute-api URL (also works with a custom domain)' });
      new CfnOutput(this, 'CustomDomainTarget', {
        value: this.faceApi.domainName.domainNameAliasDomainName,
        description: 'Point a CNAME/alias for the custom domain here',
      });
    }
    for (const client of this.faceApi.clients) {
      const key = pascal(client.name);
      new CfnOutput(this, `ApiKeyId${key}`, {
        value: client.apiKey.keyId,
        description: `API key id of client "${client.name}": aws apigateway get-api-key --api-key <id> --include-value`,
      });
      new CfnOutput(this, `UsagePlanId${key}`, { value: client.usagePlan.usagePlanId, description: `Usage plan of client "${client.name}"` });
    }
    if (this.faceApi.bearer) {
      new CfnOutput(this, 'ApiKeyIdBearer', { value: this.faceApi.bearer.apiKey.keyId, description: 'Usage key Bearer-token callers are metered under' });
      new CfnOutput(this, 'UsagePlanIdBearer', { value: this.faceApi.bearer.usagePlan.usagePlanId, description: 'Usage plan of Bearer-token callers' });
    }
    for (const client of this.faceApi.bearerClients) {
      // Per-client usage: aws apigateway get-usage --usage-plan-id <id> --start-date ... --end-date ...
      new CfnOutput(this, `UsagePlanIdBearer${pascal(client.name)}`, { value: client.usagePlan.usagePlanId, description: `Usage plan of Bearer client "${client.name}"` });
    }
    new CfnOutput(this, 'DashboardUrl', { value: this.monitoring.dashboardUrl, description: 'CloudWatch dashboard' });
  }
}
