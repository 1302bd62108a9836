/**
 * A CloudWatch dashboard and the alarms an operator needs: API 5XX rate, p99
 * latency, 429s, unhealthy targets, ECS CPU and memory, and each function's
 * errors and throttles. Every alarm notifies the alarm topic.
 */
import { Aws, Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { AppConfig } from '../config.js';
import type { HandlerFunction } from './handler-function.js';

/** Namespace of the metrics this construct derives from logs. */
export const LOG_METRICS_NAMESPACE = 'FaceVerification/Api';

export interface MonitoringProps {
  /** Every alarm notifies this topic. */
  readonly alarmTopic: sns.ITopic;
  /** The API stage and its JSON access log group. */
  readonly api: { readonly stage: apigw.Stage; readonly accessLogGroup: logs.ILogGroup };
  /** The ECS service and its target group. */
  readonly service: { readonly service: ecs.BaseService; readonly targetGroup: elbv2.ApplicationTargetGroup };
  /** Functions to watch for errors and throttles. */
  readonly functions: ReadonlyArray<{ readonly label: string; readonly fn: HandlerFunction }>;
  /** Thresholds. */
  readonly thresholds: AppConfig['alarms'];
  /**
   * Alarm on the service's CPU %. ECS computes it from the CPU units of the task definition
   * (ECS developer guide, "Amazon ECS service utilization metrics"); an EC2 GPU task reserves
   * none, so there the figure has no basis (the same reason it has no CPU scaling policy).
   * @default true
   */
  readonly cpuAlarm?: boolean;
  /** Alarms created elsewhere (e.g. the image mirror's) to show on the dashboard. @default none */
  readonly extraAlarms?: cloudwatch.IAlarm[];
  /**
   * Routes that get a dashboard widget of their own (requests, 4XX, 5XX, latency), e.g. two routes
   * sharing one function. Needs the stage's detailed metrics (`metricsEnabled`), which publish
   * per-method metrics with the ApiName, Method, Resource and Stage dimensions ("Amazon API Gateway
   * dimensions and metrics", API Gateway developer guide).
   * @default none
   */
  readonly routes?: ReadonlyArray<{ readonly method: string; readonly resource: string }>;
}

/** Dashboard and alarms. */
export class Monitoring extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  /** Alarms by id. */
  public readonly alarms: Record<string, cloudwatch.Alarm> = {};
  /** `https://console.aws.amazon.com/...` link to the dashboard. */
  public readonly dashboardUrl: string;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { stage, accessLogGroup } = props.api;
    const { service, targetGroup } = props.service;
    const t = props.thresholds;
    const fiveMinutes = Duration.minutes(5);
    const action = new cwActions.SnsAction(props.alarmTopic);
    const alarm = (alarmId: string, metric: cloudwatch.Metric | cloudwatch.MathExpression, options: Omit<cloudwatch.CreateAlarmOptions, 'treatMissingData'> & { treatMissingData?: cloudwatch.TreatMissingData }) => {
      const created = metric.createAlarm(this, alarmId, { treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, ...options });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms[alarmId] = created;
      return created;
    };

    // --- API ---
    const requests = stage.metricCount({ period: fiveMinutes, statistic: 'Sum' });
    const serverErrors = stage.metricServerError({ period: fiveMinutes, statistic: 'Sum' });
    const serverErrorRate = new cloudwatch.MathExpression({
      expression: 'IF(requests > 0, 100 * errors / requests, 0)',
      usingMetrics: { requests, errors: serverErrors },
      label: '5XX rate (%)',
      period: fiveMinutes,
    });
    alarm('Api5xxRate', serverErrorRate, {
      alarmDescription: `More than ${t.serverErrorRatePercent}% of API requests answered 5XX (2 of 3 five-minute periods).`,
      threshold: t.serverErrorRatePercent,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    const latencyP99 = stage.metricLatency({ period: fiveMinutes, statistic: 'p99' });
    alarm('ApiLatencyP99', latencyP99, {
      alarmDescription: `API p99 latency above ${t.p99LatencyMs} ms for 15 minutes.`,
      threshold: t.p99LatencyMs,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    // API Gateway publishes no 429 metric: count them from the JSON access log (status is a number there).
    const throttledFilter = new logs.MetricFilter(this, 'ThrottledFilter', {
      logGroup: accessLogGroup,
      filterPattern: logs.FilterPattern.numberValue('$.status', '=', 429),
      metricNamespace: LOG_METRICS_NAMESPACE,
      metricName: 'Http429',
      metricValue: '1',
      defaultValue: 0,
    });
    const throttled = throttledFilter.metric({ period: fiveMinutes, statistic: 'Sum' });
    alarm('Api429', throttled, {
      alarmDescription: `At least ${t.throttledPer5Minutes} requests answered 429 (throttle, quota or WAF rate rule) in 5 minutes.`,
      threshold: t.throttledPer5Minutes,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });

    // --- backend ---
    const unhealthy = targetGroup.metrics.unhealthyHostCount({ period: Duration.minutes(1), statistic: 'Maximum' });
    alarm('UnhealthyTargets', unhealthy, {
      alarmDescription: 'The internal ALB sees unhealthy containers (health check path) for 3 minutes.',
      threshold: 0,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    const healthy = targetGroup.metrics.healthyHostCount({ period: Duration.minutes(1), statistic: 'Minimum' });
    alarm('NoHealthyTargets', healthy, {
      alarmDescription: 'No healthy container behind the internal ALB for 3 minutes: every face request fails.',
      threshold: 1,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    const cpu = service.metricCpuUtilization({ period: fiveMinutes, statistic: 'Average' });
    if (props.cpuAlarm ?? true) {
      alarm('EcsCpu', cpu, {
        alarmDescription: 'ECS service CPU above 85% for 15 minutes (scaling at its limit?).',
        threshold: 85,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
    }
    const memory = service.metricMemoryUtilization({ period: fiveMinutes, statistic: 'Average' });
    alarm('EcsMemory', memory, {
      alarmDescription: 'ECS service memory above 85% of the reservation for 15 minutes (the container is capped at 16 GiB).',
      threshold: 85,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });

    // --- functions ---
    const functionWidgets: cloudwatch.IWidget[] = [];
    for (const { label, fn } of props.functions) {
      const errors = fn.fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' });
      const throttles = fn.fn.metricThrottles({ period: fiveMinutes, statistic: 'Sum' });
      alarm(`${label}Errors`, errors, {
        alarmDescription: `The ${label} function failed (unhandled error or timeout).`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
      alarm(`${label}Throttles`, throttles, {
        alarmDescription: `The ${label} function was throttled (account or reserved concurrency).`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
      functionWidgets.push(
        new cloudwatch.GraphWidget({
          title: `${label} function`,
          width: 8,
          left: [fn.fn.metricInvocations({ period: fiveMinutes, statistic: 'Sum' }), errors, throttles],
          right: [fn.fn.metricDuration({ period: fiveMinutes, statistic: 'p99', label: 'p99 duration' })],
        }),
      );
    }

    // --- dashboard ---
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(6),
    });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: [...Object.values(this.alarms), ...(props.extraAlarms ?? [])] }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'API requests',
        width: 8,
        left: [requests, stage.metricClientError({ period: fiveMinutes, statistic: 'Sum' }), serverErrors, throttled],
      }),
      new cloudwatch.GraphWidget({
        title: 'API latency (ms)',
        width: 8,
        left: [stage.metricLatency({ period: fiveMinutes, statistic: 'p50' }), latencyP99, stage.metricIntegrationLatency({ period: fiveMinutes, statistic: 'p99' })],
      }),
      new cloudwatch.GraphWidget({ title: 'API 5XX rate (%)', width: 8, left: [serverErrorRate] }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Backend targets',
        width: 8,
        left: [healthy, unhealthy],
        right: [targetGroup.metrics.requestCountPerTarget({ period: fiveMinutes, statistic: 'Sum' })],
      }),
      new cloudwatch.GraphWidget({
        title: 'Backend response time (s)',
        width: 8,
        left: [targetGroup.metrics.targetResponseTime({ period: fiveMinutes, statistic: 'p50' }), targetGroup.metrics.targetResponseTime({ period: fiveMinutes, statistic: 'p99' })],
      }),
      new cloudwatch.GraphWidget({ title: 'ECS CPU / memory (%)', width: 8, left: [cpu, memory] }),
    );
    for (let i = 0; i < functionWidgets.length; i += 3) this.dashboard.addWidgets(...functionWidgets.slice(i, i + 3));
    const routeWidgets = (props.routes ?? []).map((route) => {
      const metric = (metricName: string, statistic: string, label: string) =>
        new cloudwatch.Metric({
          namespace: 'AWS/ApiGateway',
          metricName,
          dimensionsMap: { ApiName: stage.restApi.restApiName, Method: route.method, Resource: route.resource, Stage: stage.stageName },
          period: fiveMinutes,
          statistic,
          label,
        });
      return new cloudwatch.GraphWidget({
        title: `${route.method} ${route.resource}`,
        width: 8,
        left: [metric('Count', 'Sum', 'requests'), metric('4XXError', 'Sum', '4XX'), metric('5XXError', 'Sum', '5XX')],
        right: [metric('Latency', 'p50', 'p50 latency'), metric('Latency', 'p99', 'p99 latency')],
      });
    });
    for (let i = 0; i < routeWidgets.length; i += 3) this.dashboard.addWidgets(...routeWidgets.slice(i, i + 3));

    this.dashboardUrl = `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards/dashboard/${this.dashboard.dashboardName}`;
  }
}
