/**
 * Log encryption: one customer-managed KMS key per stack (rotation on) that every
 * CloudWatch log group of the stack is encrypted with. Log groups hold request
 * metadata of a biometric service; a customer key lets the operator audit and
 * revoke access. One key per stack keeps stacks free of cross-stack references.
 */
import { Annotations, Aspects, Aws, Duration, RemovalPolicy, Stack, type IAspect } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, type IConstruct } from 'constructs';
import { restrictGrantsToAwsServices } from '../control-tower.js';

export class LogEncryption extends Construct {
  /** The key every log group of this stack is encrypted with. */
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const stack = Stack.of(this);
    this.key = new kms.Key(this, 'Key', {
      description: `Encrypts the CloudWatch log groups of ${stack.stackName}`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(7),
      // Logs stay readable after `cdk destroy` only while the key exists; a rolled-back first create holds no
      // logs worth a key, so it goes (RetainExceptOnCreate: CloudFormation User Guide, "DeletionPolicy attribute").
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    // CloudWatch Logs uses the key on the log groups' behalf; the condition limits it to this account's log groups
    // (AWS docs: "Encrypt log data in CloudWatch Logs using AWS Key Management Service").
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*` } },
      }),
    );
    // Control Tower CT.KMS.PR.3: only AWS services may create grants on the key.
    restrictGrantsToAwsServices(this.key);
    const keyArn = this.key.keyArn;
    const aspect: IAspect = {
      visit(node: IConstruct) {
        if (node instanceof logs.CfnLogGroup && Stack.of(node) === stack) {
          if (node.kmsKeyId && node.kmsKeyId !== keyArn) Annotations.of(node).addInfo('log group keeps its own KMS key');
          else node.kmsKeyId = keyArn;
        }
      },
    };
    Aspects.of(stack).add(aspect);
  }
}
