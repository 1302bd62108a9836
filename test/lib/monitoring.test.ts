/** Monitoring: the alarms the issue lists, all notifying the alarm topic, the 429 metric filter and the dashboard. */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_METRICS_NAMESPACE } from '../../lib/constructs/monitoring.js';
import { resourcesOfType, synth, type Synthesized } from './synth.js';

describe('Monitoring (default configuration with an alarm e-mail)', () => {
  let app: Synthesized;
  let template: Template;
  let json: Record<string, any>;
  let alarms: Record<string, any>;
  beforeAll(() => {
    app = synth({ alarms: { email: 'ops@example.com', p99LatencyMs: 8000, serverErrorRatePercent: 2, throttledPer5Minutes: 25 } });
    template = app.template('api');
    json = app.json('api');
    alarms = Object.fromEntries(resourcesOfType(json, 'AWS::CloudWatch::Alarm').map(([id, alarm]) => [id.replace(/[0-9A-F]{8}$/, ''), alarm.Properties]));
  });
  afterAll(() => app.cleanup());

  it('GIVEN an e-mail WHEN synthesized THEN the KMS-encrypted alarm topic in the foundation stack has the subscription', () => {
    const foundation = app.template('foundation');
    foundation.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    foundation.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    foundation.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] })]) },
    });
    foundation.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('THEN the API 5XX rate alarm computes errors / requests in % against the threshold', () => {
    expect(alarms.MonitoringApi5xxRate).toMatchObject({
      Threshold: 2,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      Metrics: expect.arrayContaining([expect.objectContaining({ Expression: 'IF(requests > 0, 100 * errors / requests, 0)' })]),
    });
    const names = alarms.MonitoringApi5xxRate.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Metric.MetricName).sort();
    expect(names).toEqual(['5XXError', 'Count']);
  });

  it('THEN the p99 latency alarm watches the stage Latency p99', () => {
    expect(alarms.MonitoringApiLatencyP99).toMatchObject({ MetricName: 'Latency', ExtendedStatistic: 'p99', Threshold: 8000, Namespace: 'AWS/ApiGateway' });
    expect(alarms.MonitoringApiLatencyP99.Dimensions.map((d: any) => d.Name).sort()).toEqual(['ApiName', 'Stage']);
  });

  it('THEN 429s are counted from the JSON access log and alarm at the threshold', () => {
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ $.status = 429 }',
      MetricTransformations: [{ MetricNamespace: LOG_METRICS_NAMESPACE, MetricName: 'Http429', MetricValue: '1', DefaultValue: 0 }],
    });
    expect(alarms.MonitoringApi429).toMatchObject({ MetricName: 'Http429', Namespace: LOG_METRICS_NAMESPACE, Threshold: 25, Statistic: 'Sum' });
  });

  it('THEN unhealthy and missing targets, ECS CPU and memory alarm', () => {
    expect(alarms.MonitoringUnhealthyTargets).toMatchObject({ MetricName: 'UnHealthyHostCount', Namespace: 'AWS/ApplicationELB', Threshold: 0 });
    expect(alarms.MonitoringNoHealthyTargets).toMatchObject({ MetricName: 'HealthyHostCount', ComparisonOperator: 'LessThanThreshold', Threshold: 1, TreatMissingData: 'breaching' });
    expect(alarms.MonitoringEcsCpu).toMatchObject({ MetricName: 'CPUUtilization', Namespace: 'AWS/ECS', Threshold: 85 });
    expect(alarms.MonitoringEcsMemory).toMatchObject({ MetricName: 'MemoryUtilization', Namespace: 'AWS/ECS', Threshold: 85 });
  });

  it('THEN every function has an errors and a throttles alarm', () => {
    for (const label of ['Authorizer', 'Proxy', 'FetchImage', 'Compare', 'VerifyFaces', 'Docs']) {
      expect(alarms[`Monitoring${label}Errors`], label).toMatchObject({ MetricName: 'Errors', Namespace: 'AWS/Lambda', Threshold: 1 });
      expect(alarms[`Monitoring${label}Throttles`], label).toMatchObject({ MetricName: 'Throttles', Namespace: 'AWS/Lambda', Threshold: 1 });
    }
  });

  it('THEN every alarm notifies the alarm topic on ALARM and OK', () => {
    const monitoring = Object.entries(alarms).filter(([id]) => id.startsWith('Monitoring'));
    // 7 for the API and the backend, errors and throttles for each of the 6 functions.
    expect(monitoring.length).toBe(19);
    for (const [, alarm] of monitoring) {
      expect(JSON.stringify(alarm.AlarmActions)).toMatch(/AlarmsTopic/);
      expect(JSON.stringify(alarm.OKActions)).toMatch(/AlarmsTopic/);
    }
  });

  it('THEN a dashboard shows the alarms and the request path, and its URL is an output', () => {
    const [[dashboardId, dashboard]] = resourcesOfType(json, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const title of ['Alarms', 'API requests', 'API latency (ms)', 'Backend targets', 'ECS CPU / memory (%)', 'Proxy function']) expect(body).toContain(title);
    expect(JSON.stringify(json.Outputs.DashboardUrl.Value)).toContain(dashboardId);
  });
});

describe('Monitoring (ec2-gpu)', () => {
  it('GIVEN an EC2 GPU task (no CPU units reserved) WHEN synthesized THEN there is no ECS CPU alarm, and the memory alarm stays', () => {
    const app = synth({ compute: { mode: 'ec2-gpu' } });
    try {
      const alarms = resourcesOfType(app.json('api'), 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
      expect(alarms.filter((alarm) => alarm.MetricName === 'CPUUtilization' && alarm.Namespace === 'AWS/ECS')).toEqual([]);
      expect(alarms.filter((alarm) => alarm.MetricName === 'MemoryUtilization' && alarm.Namespace === 'AWS/ECS')).toHaveLength(1);
    } finally {
      app.cleanup();
    }
  });
});
