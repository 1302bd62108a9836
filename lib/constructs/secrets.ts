/**
 * Secrets the operator supplies (the vendor's activation key, the vendor's
 * access key pair): created with a placeholder to be filled in after the first
 * deploy, or imported by name or ARN.
 */
import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { SecretRef } from '../config.js';

export interface OperatorSecretProps {
  /** Create (with `name` or `defaultName`) or import. */
  readonly ref: SecretRef;
  /** Name used when creating without an explicit name. */
  readonly defaultName: string;
  /** Description shown in the console (says what to put there). */
  readonly description: string;
  /**
   * The placeholder value's shape: a JSON template whose `generateKey` gets a
   * random value (the secret is never empty, so nothing can mistake it for a real value).
   * @default a random string
   */
  readonly placeholder?: { readonly template: Record<string, string>; readonly generateKey: string };
  /** Why this secret is not rotated (cdk-nag AwsSolutions-SMG4). */
  readonly noRotationReason: string;
  /**
   * When imported by name, look up the complete ARN at deploy time (a DescribeSecret
   * custom resource): ECS task secrets fail with a name-only partial ARN
   * (github.com/aws/aws-cdk/issues/20744). Synth still does no lookup.
   * @default false
   */
  readonly resolveCompleteArn?: boolean;
}

/** A secret the operator fills in: owned (RETAIN_ON_UPDATE_OR_DELETE) or imported. */
export class OperatorSecret extends Construct {
  /** The secret (owned or imported). */
  public readonly secret: secretsmanager.ISecret;
  /** True when this app created the secret. */
  public readonly created: boolean;
  /** The name the operator uses with `aws secretsmanager put-secret-value --secret-id`. */
  public readonly secretName: string;
  /** What a function passes to GetSecretValue: the complete ARN, or the name of a secret imported by name. */
  public readonly secretId: string;

  constructor(scope: Construct, id: string, props: OperatorSecretProps) {
    super(scope, id);
    const ref = props.ref;
    if ('create' in ref) {
      const name = ref.name ?? props.defaultName;
      const secret = new secretsmanager.Secret(this, 'Secret', {
        secretName: name,
        description: props.description,
        generateSecretString: props.placeholder
          ? { secretStringTemplate: JSON.stringify(props.placeholder.template), generateStringKey: props.placeholder.generateKey, excludePunctuation: true }
          : { excludePunctuation: true, passwordLength: 32 },
        // The value is the vendor's: keep it on delete and replacement, but not when the stack's first create
        // rolls back (RetainExceptOnCreate), or the retry fails on "already exists" for this fixed name
        // (CloudFormation User Guide, "DeletionPolicy attribute", RetainExceptOnCreate).
        removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      });
      Validations.of(secret).acknowledge({ id: 'AwsSolutions-SMG4', reason: props.noRotationReason });
      this.secret = secret;
      this.created = true;
      this.secretName = name;
      this.secretId = secret.secretArn;
    } else if ('secretArn' in ref) {
      this.secret = secretsmanager.Secret.fromSecretCompleteArn(this, 'Secret', ref.secretArn);
      this.created = false;
      this.secretName = ref.secretArn;
      this.secretId = ref.secretArn;
    } else if (props.resolveCompleteArn) {
      const byName = secretsmanager.Secret.fromSecretNameV2(this, 'ByName', ref.secretName);
      const describe: cr.AwsSdkCall = {
        service: 'SecretsManager',
        action: 'describeSecret',
        parameters: { SecretId: ref.secretName },
        physicalResourceId: cr.PhysicalResourceId.of(ref.secretName),
        outputPaths: ['ARN'],
      };
      const lookup = new cr.AwsCustomResource(this, 'ResolveArn', {
        onCreate: describe,
        onUpdate: describe,
        // fromSecretNameV2 grants on "<name>-??????": the secret's six-character suffix.
        policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [`${byName.secretArn}-??????`] }),
        installLatestAwsSdk: false,
      });
      acknowledgeAwsCustomResourceProvider(this);
      this.secret = secretsmanager.Secret.fromSecretCompleteArn(this, 'Secret', lookup.getResponseField('ARN'));
      this.created = false;
      this.secretName = ref.secretName;
      this.secretId = ref.secretName;
    } else {
      this.secret = secretsmanager.Secret.fromSecretNameV2(this, 'Secret', ref.secretName);
      this.created = false;
      this.secretName = ref.secretName;
      this.secretId = ref.secretName;
    }
  }
}

/** Acknowledges cdk-nag findings on the stack's singleton AwsCustomResource provider function (aws-cdk-lib's code). */
export function acknowledgeAwsCustomResourceProvider(scope: Construct): void {
  const provider = Stack.of(scope).node.tryFindChild('AWS679f53fac002430cb0da5b7982bd2287');
  if (!provider) return;
  Validations.of(provider).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason: "aws-cdk-lib's AwsCustomResource provider: its role is created by the library with the basic execution policy.",
  });
  Validations.of(provider).acknowledge({
    id: 'AwsSolutions-L1',
    reason: "aws-cdk-lib's AwsCustomResource provider: the library chooses its runtime.",
  });
}
