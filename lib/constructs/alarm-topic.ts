/**
 * The SNS topic every alarm notifies: KMS-encrypted with a key CloudWatch may
 * use (the AWS-managed aws/sns key does not let CloudWatch publish), TLS only,
 * and an optional e-mail subscription.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { restrictGrantsToAwsServices } from '../control-tower.js';

export interface AlarmTopicProps {
  /** Address subscribed to the topic (AWS sends a confirmation e-mail first). @default no subscription */
  readonly email?: string;
}

/** Alarm notifications. */
export class AlarmTopic extends Construct {
  public readonly topic: sns.Topic;
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: AlarmTopicProps = {}) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: 'Encrypts the face verification alarm topic',
      enableKeyRotation: true,
      pendingWindow: Duration.days(7),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch alarms publish to an encrypted topic only if they may use its key (SNS developer guide, "Encryption at rest").
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    // Control Tower CT.KMS.PR.3: only AWS services may create grants on the key.
    restrictGrantsToAwsServices(this.key);
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'Face verification alarms',
      masterKey: this.key,
      enforceSSL: true,
    });
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
  }
}
