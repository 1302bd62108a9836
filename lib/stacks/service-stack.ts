/**
 * Service: the container image supply (mirror, pull-through or external) and
 * the ECS service behind its internal ALB.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { LogEncryption } from '../constructs/log-encryption.js';
import { projectPath, type AppConfig } from '../config.js';
import { loadScoreTable, tableImageDigest } from '../../lambda/shared/score-table.js';
import { ImageSupply } from '../constructs/image-supply.js';
import { CONTAINER_NAME, FaceService } from '../constructs/service.js';
import type { FoundationStack } from './foundation-stack.js';
import { retentionDays } from './retention.js';

export interface ServiceStackProps extends StackProps {
  readonly config: AppConfig;
  readonly foundation: FoundationStack;
  /** Changes on every synth so the mirror runs on every deploy. @default a constant */
  readonly imageRefreshToken?: string;
}

export class ServiceStack extends Stack {
  public readonly imageSupply: ImageSupply;
  public readonly face: FaceService;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    new LogEncryption(this, 'LogEncryption');
    const { config, foundation } = props;
    const logRetention = retentionDays(config.logRetentionDays);

    this.imageSupply = new ImageSupply(this, 'Image', {
      config: config.imageSupply,
      vendorImage: config.vendorImage,
      vendorCredentials: foundation.vendorCredentials,
      logRetention,
      alarmTopic: foundation.alarmTopic.topic,
      refreshToken: props.imageRefreshToken,
      // The name `npm run sync-image -- --stage <stage>` invokes when no outputs file is given.
      syncFunctionName: `face-verification-${config.stage}-image-mirror`,
      // Table-mode compare binds the image to the table's digest (config validation guarantees it has one).
      ...(config.compare.mode === 'table' && foundation.compareModeFlag
        ? { compareTable: { imageDigest: tableImageDigest(loadScoreTable(projectPath(config.compare.scoreTableFile)))!, modeFlag: foundation.compareModeFlag.secret } }
        : {}),
    });

    this.face = new FaceService(this, 'Face', {
      vpc: foundation.network.vpc,
      vpcCidr: foundation.network.cidr,
      subnets: foundation.network.subnets,
      compute: config.compute,
      tasks: config.tasks,
      container: config.container,
      image: this.imageSupply.image,
      activationKey: foundation.activationKey.secret,
      logRetention,
    });
    this.imageSupply.bindService({
      service: this.face.service,
      taskDefinition: this.face.taskDefinition,
      containerName: CONTAINER_NAME,
      cluster: this.face.cluster,
    });

    new CfnOutput(this, 'EcrRepositoryUri', { value: this.imageSupply.repositoryUri, description: 'ECR repository the service pulls the vendor image from' });
    new CfnOutput(this, 'ImageUri', { value: this.imageSupply.imageUri, description: 'The image the task definition runs' });
    new CfnOutput(this, 'ClusterName', { value: this.face.cluster.clusterName });
    new CfnOutput(this, 'ServiceName', { value: this.face.service.serviceName });
    if (this.imageSupply.syncFunction) {
      new CfnOutput(this, 'ImageMirrorFunctionName', {
        value: this.imageSupply.syncFunction.fn.functionName,
        description: 'Invoke with {"action":"sync"} to re-mirror the vendor image now',
      });
    }
  }
}
