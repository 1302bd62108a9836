import type * as logs from 'aws-cdk-lib/aws-logs';

/** The configured number of days as a RetentionDays value (the schema allows only CloudWatch's values). */
export function retentionDays(days: number): logs.RetentionDays {
  return days as logs.RetentionDays;
}
