/**
 * AWS Control Tower proactive controls (the CloudFormation Guard rules that
 * `@cdklabs/cdk-validator-cfnguard` ships and `test/lib/control-tower.test.ts`
 * runs over every example configuration). A control this app keeps failing is
 * acknowledged next to the construct, with its reason, through the same
 * `Validations.of(construct).acknowledge(...)` call the cdk-nag
 * acknowledgements use: aws-cdk-lib's policy-validation report matches the id
 * `cdk-validator-cfnguard::<guard rule name>` against the violating resource's
 * construct path (the construct itself or any parent). Nothing here reads
 * node_modules: the control id -> guard rule name table is pinned by the test.
 *
 * Note for operators: an acknowledgement only quiets our own test. An account
 * whose Control Tower enables one of these controls as a CloudFormation hook
 * still blocks the resource (docs/first-deploy.md lists which ones).
 */
import { Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { IConstruct } from 'constructs';

/** The validation plugin's name (`CfnGuardValidator.name`): the acknowledgement namespace. */
export const CFN_GUARD_PLUGIN_NAME = 'cdk-validator-cfnguard';

/**
 * Control Tower control ids -> the Guard rule name that reports them (the
 * `rule <name>` in `rules/control-tower/cfn-guard/<service>/ct-*.guard`).
 * Only the controls this app acknowledges somewhere are listed.
 */
export const CONTROL_TOWER_RULES = {
  'CT.AUTOSCALING.PR.1': 'autoscaling_multiple_az_check',
  'CT.AUTOSCALING.PR.6': 'autoscaling_mixed_instances_policy_multiple_instance_types_check',
  'CT.ECR.PR.3': 'ecr_private_tag_immutability_enabled_check',
  'CT.ECS.PR.1': 'ecs_fargate_latest_platform_version_check',
  'CT.ECS.PR.3': 'ecs_task_definition_nonroot_user_check',
  'CT.ELASTICLOADBALANCING.PR.1': 'alb_http_to_https_redirection_check',
  'CT.ELASTICLOADBALANCING.PR.5': 'elbv2_deletion_protection_enabled_check',
  'CT.ELASTICLOADBALANCING.PR.6': 'elbv2_logging_enabled_check',
  'CT.LAMBDA.PR.2': 'lambda_function_public_access_prohibited_check',
  'CT.LAMBDA.PR.3': 'lambda_inside_vpc_check',
} as const;

/** A Control Tower control id this app acknowledges somewhere. */
export type ControlTowerControl = keyof typeof CONTROL_TOWER_RULES;

/**
 * Acknowledges a Control Tower control on `scope` and everything below it,
 * with the reason it stays failing there.
 * @param scope the construct (or a parent) of the violating resource
 * @param control the control id, e.g. `CT.LAMBDA.PR.3`
 * @param reason why the control cannot or should not pass here
 */
export function acknowledgeControlTower(scope: IConstruct, control: ControlTowerControl, reason: string): void {
  Validations.of(scope).acknowledge({ id: `${CFN_GUARD_PLUGIN_NAME}::${CONTROL_TOWER_RULES[control]}`, reason: `[${control}] ${reason}` });
}

/**
 * CT.KMS.PR.3: a key policy statement that denies kms:CreateGrant unless an
 * AWS service creates the grant for a resource it manages. The statement shape
 * (Deny, Principal AWS "*", BoolIfExists on kms:GrantIsForAWSResource and
 * aws:PrincipalIsAWSService both "false") is what the control's Guard rule and
 * the Control Tower controls reference ("CT.KMS.PR.3") require. None of this
 * app's keys needs a grant from a person or a role: CloudWatch Logs, SNS and
 * CloudWatch alarms use the keys directly through the key policy.
 */
export function restrictGrantsToAwsServices(key: kms.Key): void {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyCreateGrantExceptForAwsServices',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
    }),
  );
}
