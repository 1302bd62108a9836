/**
 * Table-mode compare, watched (docs/score-table.md):
 *
 * - {@link CompareModeFlag}: the runtime switch between the score table and forwarding,
 *   a Secrets Manager secret holding `{"mode":"table"|"forward",...}`. Secrets Manager and
 *   not an SSM parameter: the compare function's VPC has interface endpoints for ECR, S3,
 *   Logs, Secrets Manager and Lambda and no NAT; an SSM endpoint would add one interface
 *   endpoint per AZ (billed per AZ-hour, about 7.30 USD a month each at 0.01 USD/h), where a
 *   secret costs 0.40 USD a month plus 0.05 USD per 10,000 reads (AWS Secrets Manager and
 *   AWS PrivateLink pricing pages). The value is not secret; it lives there for the endpoint.
 * - {@link CompareCheck}: the function that sends random and boundary-straddling pairs to the
 *   table and to the container (through the internal ALB) every 15 minutes and after every
 *   completed ECS service deployment, flips the flag to `forward` on any mismatch, and the
 *   alarms that tell the operator.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { INITIAL_COMPARE_MODE_FLAG } from '../../lambda/shared/compare-mode.js';
import { HandlerFunction, METRICS_NAMESPACE } from './handler-function.js';

/** The Powertools service name (metric dimension `service`) of the check function. */
export const COMPARE_CHECK_SERVICE = 'face-compare-check';
/** The score table's file name inside the compare and compare-check bundles. */
export const CHECK_TABLE_BUNDLE_FILE = 'score-table.json';

/** The check function's name in a stage (what `npm run compare-mode -- --stage <stage>` invokes). */
export function compareCheckFunctionName(stage: string): string {
  return `face-verification-${stage}-compare-check`;
}

/** The compare-mode switch. */
export class CompareModeFlag extends Construct {
  /** The secret holding the flag. */
  public readonly secret: secretsmanager.Secret;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      description: 'Compare mode switch {"mode":"table"|"forward"}: written by the compare check and npm run compare-mode; not a credential',
      // The initial value comes from a template CloudFormation fills in once (no SecretString in the template,
      // like every other secret here). Constant on purpose: CloudFormation generates a value again only when
      // GenerateSecretString changes, so a redeploy never resets a "forward" that a failed check wrote.
      generateSecretString: {
        secretStringTemplate: JSON.stringify(INITIAL_COMPARE_MODE_FLAG),
        generateStringKey: 'nonce',
        excludePunctuation: true,
        passwordLength: 8,
      },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Holds no credential, only the compare-mode switch {"mode":"table"|"forward"}; it is kept in Secrets Manager because the VPC has its endpoint. Nothing to rotate.',
    });
  }
}

export interface CompareCheckProps {
  /** The verified score table file (the one the compare function bundles). */
  readonly tableFile: string;
  /** The flag the check flips and the compare function reads. */
  readonly flag: secretsmanager.ISecret;
  /** The container's base URL (the internal ALB). */
  readonly backendUrl: string;
  /** VPC, subnets and the security group that may reach the ALB and the endpoints. */
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroup: ec2.ISecurityGroup;
  /** The ECS service: a check runs after each of its completed deployments. */
  readonly service: ecs.BaseService;
  /** Mismatch, forwarding and no-verdict alarms notify this topic. */
  readonly alarmTopic: sns.ITopic;
  readonly logRetention: logs.RetentionDays;
  /** EventBridge schedule of the check. @default rate(15 minutes) */
  readonly schedule?: string;
  /** Random pairs per check (boundary-straddling pairs come on top, two per boundary). @default 32 */
  readonly randomPairs?: number;
  /** A fixed function name (`npm run compare-mode` invokes it). @default generated */
  readonly functionName?: string;
}

/** The scheduled check, its triggers and its alarms. */
export class CompareCheck extends Construct {
  public readonly fn: HandlerFunction;
  /** Any pair answered differently (one check is enough). */
  public readonly driftAlarm: cloudwatch.Alarm;
  /** Compare is forwarding (stays in alarm until an operator switches back). */
  public readonly forwardingAlarm: cloudwatch.Alarm;
  /** Two checks in a row without a verdict (the container failed pairs). */
  public readonly inconclusiveAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: CompareCheckProps) {
    super(scope, id);
    const tableFile = props.tableFile;
    this.fn = new HandlerFunction(this, 'Function', {
      handler: 'compare-check',
      description: 'Checks the compare score table against the container; switches compare to forwarding on any mismatch',
      logRetention: props.logRetention,
      memorySize: 256,
      // A check is a few hundred compares of about a millisecond each at 8 in flight; 5 s per request at most.
      timeout: Duration.seconds(120),
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [props.securityGroup],
      functionName: props.functionName,
      environment: {
        SCORE_TABLE: CHECK_TABLE_BUNDLE_FILE,
        BACKEND_URL: props.backendUrl,
        COMPARE_MODE_SECRET_ID: props.flag.secretArn,
        CHECK_RANDOM_PAIRS: String(props.randomPairs ?? 32),
      },
      afterBundling: (_inputDir, outputDir) => [`cp "${tableFile}" "${outputDir}/${CHECK_TABLE_BUNDLE_FILE}"`],
    });
    props.flag.grantRead(this.fn.role);
    // Only PutSecretValue (not grantWrite's UpdateSecret): the check writes a new value, nothing else.
    this.fn.role.addToPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:PutSecretValue'], resources: [props.flag.secretArn] }));

    new events.Rule(this, 'Schedule', {
      description: 'Checks the compare score table against the container',
      schedule: events.Schedule.expression(props.schedule ?? 'rate(15 minutes)'),
      targets: [new targets.LambdaFunction(this.fn.fn, { retryAttempts: 0 })],
    });
    // "ECS Deployment State Change" with SERVICE_DEPLOYMENT_COMPLETED: sent once the service reaches a steady
    // state after a deployment; `resources` holds the service ARN (ECS developer guide, ecs_service_deployment_events).
    new events.Rule(this, 'AfterDeployment', {
      description: 'Checks the compare score table after every completed deployment of the face service',
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Deployment State Change'],
        resources: [props.service.serviceArn],
        detail: { eventName: ['SERVICE_DEPLOYMENT_COMPLETED'] },
      },
      targets: [new targets.LambdaFunction(this.fn.fn, { retryAttempts: 2 })],
    });

    const action = new cwActions.SnsAction(props.alarmTopic);
    const metric = (metricName: string, statistic: string, period: Duration) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: COMPARE_CHECK_SERVICE }, statistic, period });
    // Every alarm here fires on one or more events (or a flag at 1) and stays quiet without data.
    const alarm = (alarmId: string, options: Omit<cloudwatch.AlarmProps, 'threshold' | 'comparisonOperator'>) => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        ...options,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      return created;
    };
    this.driftAlarm = alarm('Drift', {
      metric: metric('CompareTableMismatches', 'Sum', Duration.minutes(5)),
      alarmDescription: 'The compare score table answered differently from the container; compare switched itself to forwarding. Recalibrate (npm run calibrate -- --stage <stage>), deploy the new table, then npm run compare-mode -- --stage <stage> --table.',
      evaluationPeriods: 1,
    });
    this.forwardingAlarm = alarm('Forwarding', {
      metric: metric('CompareForwarding', 'Maximum', Duration.minutes(15)),
      alarmDescription: 'Compare is forwarding to the container instead of answering from the score table (after a mismatch, a follow rollout or an operator). npm run compare-mode -- --stage <stage> --status says why.',
      evaluationPeriods: 1,
    });
    this.inconclusiveAlarm = alarm('Inconclusive', {
      metric: metric('CompareCheckInconclusive', 'Maximum', Duration.minutes(15)),
      alarmDescription: 'Two compare checks in a row got no answer from the container for some pairs: the table is not being verified.',
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
    });
  }
}
