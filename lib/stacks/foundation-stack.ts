/**
 * Foundation: the network, the secrets the operator fills in (the vendor's
 * activation key and, for the mirror, the vendor's access key pair) and the
 * alarm topic. Deploy it first, fill the secrets, then deploy the rest.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { LogEncryption } from '../constructs/log-encryption.js';
import type { AppConfig } from '../config.js';
import { AlarmTopic } from '../constructs/alarm-topic.js';
import { CompareModeFlag } from '../constructs/compare-check.js';
import { Network } from '../constructs/network.js';
import { OperatorSecret } from '../constructs/secrets.js';
import { retentionDays } from './retention.js';

export interface FoundationStackProps extends StackProps {
  readonly config: AppConfig;
}

export class FoundationStack extends Stack {
  public readonly network: Network;
  public readonly activationKey: OperatorSecret;
  /** Mirror mode only. */
  public readonly vendorCredentials?: OperatorSecret;
  public readonly alarmTopic: AlarmTopic;
  /** compare.mode "table" only: the switch the live check flips to forwarding (read by compare, written by the check and a follow rollout). */
  public readonly compareModeFlag?: CompareModeFlag;

  constructor(scope: Construct, id: string, props: FoundationStackProps) {
    super(scope, id, props);
    new LogEncryption(this, 'LogEncryption');
    const { config } = props;

    this.network = new Network(this, 'Network', {
      config: config.network,
      logRetention: retentionDays(config.logRetentionDays),
      // EC2 GPU and managed GPU instances run the ECS agent, which registers through these endpoints (no internet).
      ecsAgentEndpoints: config.compute.mode !== 'fargate',
    });

    this.activationKey = new OperatorSecret(this, 'ActivationKey', {
      ref: config.activationKey,
      defaultName: `face-verification/${config.stage}/activation-key`,
      description: 'The vendor activation key (ACTIVATION_KEY of the Face Verification container): replace the placeholder with the key from the vendor.',
      noRotationReason: 'The activation key is issued by the vendor; it changes only when the vendor issues a new one (put-secret-value, then redeploy).',
      // ECS task secrets need the complete ARN; a by-name import is resolved at deploy time.
      resolveCompleteArn: true,
    });
    new CfnOutput(this, 'ActivationKeySecretName', {
      value: this.activationKey.secretName,
      description: 'Put the vendor activation key here: aws secretsmanager put-secret-value --secret-id <this> --secret-string <key>',
    });

    if (config.imageSupply.mode === 'mirror') {
      this.vendorCredentials = new OperatorSecret(this, 'VendorCredentials', {
        ref: config.imageSupply.vendorCredentials,
        defaultName: `face-verification/${config.stage}/vendor-registry-credentials`,
        description: 'The vendor registry key pair as {"accessKeyId":"...","secretAccessKey":"..."} (used by the image mirror only).',
        placeholder: { template: { accessKeyId: 'REPLACE_WITH_VENDOR_ACCESS_KEY_ID' }, generateKey: 'secretAccessKey' },
        noRotationReason: 'The access key pair is issued by the vendor for its registry; only the vendor can rotate it.',
      });
      new CfnOutput(this, 'VendorCredentialsSecretName', {
        value: this.vendorCredentials.secretName,
        description: 'Put the vendor access key pair here as {"accessKeyId":"...","secretAccessKey":"..."}',
      });
    }

    if (config.compare.mode === 'table') {
      // Here, not in the API stack: a follow rollout (service stack) writes it too.
      this.compareModeFlag = new CompareModeFlag(this, 'CompareMode');
    }

    this.alarmTopic = new AlarmTopic(this, 'Alarms', { email: config.alarms.email });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topic.topicArn, description: 'SNS topic every alarm notifies' });
    new CfnOutput(this, 'VpcId', { value: this.network.vpc.vpcId });
  }
}
