/**
 * API: the REST API with its functions, keys, usage plans and WAF, and the
 * dashboard and alarms that watch the whole path.
 *
 * It reads the Foundation and Service stacks through strong references
 * (cdk.json `@aws-cdk/core:defaultCrossStackReferences: strong`: CloudFormation
 * exports + `Fn::ImportValue`), which every region supports, also nested in
 * `Fn::Join`/`Fn::Split`. Weak references (`Fn::GetStackOutput`) are not
 * supported nested in other intrinsics in every region (aws-cdk PR 37948).
 * The price: CloudFormation refuses to change or delete an export while
 * another stack imports it ("Export ... cannot be updated as it is in use").
 * A change that replaces an imported resource (the internal ALB or its target
 * group, or the ECS service, which is replaced when `compute.mode` changes)
 * fails in the Service stack's deploy. Do it in two steps: `cdk destroy` this
 * Api stack (the API is unavailable until step 2), then `cdk deploy --all`; or
 * deploy the change as a new stage. See docs/gpu.md, "Stack updates".
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { PATHS } from '../../lambda/shared/contract.js';
import type { Construct } from 'constructs';
import { LogEncryption } from '../constructs/log-encryption.js';
import { projectPath, type AppConfig } from '../config.js';
import { FaceApi, pascal } from '../constructs/api.js';
import { CompareCheck, compareCheckFunctionName } from '../constructs/compare-check.js';
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
  /** compare.mode "table" only. */
  public readonly compareCheck?: CompareCheck;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    new LogEncryption(this, 'LogEncryption');
    const { config, foundation, service } = props;
    const logRetention = retentionDays(config.logRetentionDays);

    this.faceApi = new FaceApi(this, 'Api', {
      config: config.api,
      jwt: config.jwt,
      compare: config.compare,
      compareModeFlag: foundation.compareModeFlag?.secret,
      imageFetch: config.imageFetch,
      vpc: foundation.network.vpc,
      subnets: foundation.network.subnets,
      backend: { url: service.face.backendUrl, clientSecurityGroup: service.face.clientSecurityGroup },
      logRetention,
    });

    // Table mode is watched: a scheduled (and post-deployment) check against the container.
    if (config.compare.mode === 'table' && foundation.compareModeFlag) {
      this.compareCheck = new CompareCheck(this, 'CompareCheck', {
        tableFile: projectPath(config.compare.scoreTableFile),
        flag: foundation.compareModeFlag.secret,
        backendUrl: service.face.backendUrl,
        vpc: foundation.network.vpc,
        subnets: foundation.network.subnets,
        securityGroup: service.face.clientSecurityGroup,
        service: service.face.service,
        alarmTopic: foundation.alarmTopic.topic,
        logRetention,
        schedule: config.compare.checkSchedule,
        randomPairs: config.compare.checkRandomPairs,
        // The name `npm run compare-mode -- --stage <stage>` invokes.
        functionName: compareCheckFunctionName(config.stage),
      });
      new CfnOutput(this, 'CompareCheckFunctionName', { value: this.compareCheck.fn.fn.functionName, description: 'npm run compare-mode invokes it: {"action":"check"|"enable-table"|"forward"}' });
    }

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
        { label: 'VerifyFaces', fn: f.verifyFaces },
        ...(f.docs ? [{ label: 'Docs', fn: f.docs }] : []),
        ...(this.compareCheck ? [{ label: 'CompareCheck', fn: this.compareCheck.fn }] : []),
      ],
      thresholds: config.alarms,
      // An ec2-gpu task reserves no CPU units: its CPU % has no basis (docs/gpu.md).
      cpuAlarm: config.compute.mode !== 'ec2-gpu',
      // compare and its batch extension share the Compare function (and its alarms): one widget per route tells them apart.
      routes: [
        { method: 'POST', resource: PATHS.compareFaceEmbeddings },
        { method: 'POST', resource: PATHS.compareFaceEmbeddingsBatch },
      ],
      extraAlarms: [
        ...(service.imageSupply.mirrorAlarm ? [service.imageSupply.mirrorAlarm] : []),
        ...(this.compareCheck ? [this.compareCheck.driftAlarm, this.compareCheck.forwardingAlarm, this.compareCheck.inconclusiveAlarm] : []),
      ],
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
