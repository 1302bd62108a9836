/**
 * AWS Control Tower proactive controls (CloudFormation Guard rules shipped by
 * `@cdklabs/cdk-validator-cfnguard`, run by its cfn-guard binary, offline) over
 * EVERY example configuration: the default (`{}`) and each `config/*.json`,
 * loaded the way `cdk synth -c stage=<name>` loads it (lib/config.ts
 * loadConfig). A failing control must be acknowledged in the code next to the
 * construct, with its reason (lib/control-tower.ts); a new unacknowledged
 * failure, or an acknowledgement that no longer matches a failure, fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.js';
import { loadConfig, PROJECT_DIR } from '../../lib/config.js';
import { acknowledgeControlTower, CFN_GUARD_PLUGIN_NAME, CONTROL_TOWER_RULES, restrictGrantsToAwsServices } from '../../lib/control-tower.js';
import { controlTowerRuleFiles, ruleTypes, runControlTower, tempOutdir, type ControlTowerRun, type GuardFinding } from '../helpers/control-tower.js';
import { cdkJsonContext, synth } from './synth.js';

/** undefined = the default deployment (cdk.json context only); otherwise config/<stage>.json. */
const STAGES: Array<string | undefined> = [
  undefined,
  ...readdirSync(join(PROJECT_DIR, 'config'))
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length))
    .sort(),
];

const describeFinding = (f: GuardFinding) => `${f.control} (${f.rule}) at ${f.constructPath} [${f.stack}/${f.logicalId}]`;

describe.each(STAGES.map((stage) => [stage ?? 'default', stage] as const))('Control Tower controls over the %s configuration', (_name, stage) => {
  let run: ControlTowerRun;
  let out: ReturnType<typeof tempOutdir>;
  beforeAll(() => {
    out = tempOutdir();
    // Exactly what bin/app.ts does for `cdk synth [-c stage=<name>]`, without esbuild.
    const app = new App({ outdir: out.dir, context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...(stage ? { stage } : {}) } });
    const config = loadConfig({ getContext: (key) => app.node.tryGetContext(key) });
    const stacks = buildApp(app, config, { nag: false, imageRefreshToken: 'test-token' });
    run = runControlTower(app, [stacks.foundation, stacks.service, stacks.api]);
  }, 240_000);
  afterAll(() => out?.cleanup());

  it('THEN cfn-guard ran every rule that names a resource type of the templates', () => {
    const types = new Set(Object.values(run.templates).flatMap((t) => Object.values(t.Resources as Record<string, any>).map((r) => (r.Type as string).toLowerCase())));
    const needed = controlTowerRuleFiles().filter((file) => ruleTypes(file).some((type) => types.has(type)));
    expect(needed.filter((file) => !run.rulesRun.includes(file))).toEqual([]);
    expect(run.rulesRun.length).toBeGreaterThan(20);
  });

  it('THEN no control fails without an acknowledgement in the code', () => {
    expect(run.violations.map(describeFinding)).toEqual([]);
  });

  it('THEN every acknowledged failure names its control and a reason', () => {
    for (const finding of run.acknowledged) {
      expect(finding.acknowledgement!.reason, describeFinding(finding)).toMatch(new RegExp(`^\\[${finding.control.replace(/\./g, '\\.')}\\] .{20,}`));
    }
  });

  it('THEN every acknowledgement in the code still matches a failure (none is stale)', () => {
    const used = new Set(run.acknowledged.map((f) => `${f.acknowledgement!.id}@${f.acknowledgement!.path}`));
    const stale = run.acknowledgements.filter((a) => !used.has(`${a.id}@${a.path}`)).map((a) => `${a.id} at ${a.path}`);
    expect(stale).toEqual([]);
  });

  it('THEN the controls this app fixed pass: log retention, KMS grants', () => {
    const failing = new Set([...run.violations, ...run.acknowledged].map((f) => f.control));
    expect(failing).not.toContain('CT.CLOUDWATCH.PR.2');
    expect(failing).not.toContain('CT.KMS.PR.3');
  });
});

describe('the acknowledgement mechanism', () => {
  it('GIVEN two log groups kept 30 days, one acknowledged WHEN the controls run THEN only the other one fails CT.CLOUDWATCH.PR.2', () => {
    const out = tempOutdir();
    try {
      const app = new App({ outdir: out.dir });
      const stack = new Stack(app, 'Probe');
      const quiet = new logs.LogGroup(stack, 'Acknowledged', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
      new logs.LogGroup(stack, 'Loud', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
      acknowledgeControlTower(quiet, 'CT.LAMBDA.PR.3', 'a different control: must not quiet the retention rule');
      // The real acknowledgement, written through the same Validations API:
      Validations.of(quiet).acknowledge({ id: `${CFN_GUARD_PLUGIN_NAME}::cloudwatch_log_group_retention_period_check`, reason: '[CT.CLOUDWATCH.PR.2] probe' });
      const run = runControlTower(app, [stack]);
      // (The probe's groups also miss a KMS key: CT.CLOUDWATCH.PR.3, not the subject here.)
      const retention = (findings: GuardFinding[]) => findings.filter((f) => f.control === 'CT.CLOUDWATCH.PR.2');
      expect(retention(run.violations).map((f) => [f.control, f.constructPath])).toEqual([['CT.CLOUDWATCH.PR.2', 'Probe/Loud/Resource']]);
      expect(retention(run.acknowledged).map((f) => [f.control, f.constructPath, f.acknowledgement?.path])).toEqual([['CT.CLOUDWATCH.PR.2', 'Probe/Acknowledged/Resource', 'Probe/Acknowledged']]);
    } finally {
      out.cleanup();
    }
  }, 120_000);

  it('GIVEN a KMS key WHEN restrictGrantsToAwsServices is applied THEN CT.KMS.PR.3 passes, and fails without it', () => {
    const out = tempOutdir();
    try {
      const app = new App({ outdir: out.dir });
      const stack = new Stack(app, 'Keys');
      const restricted = new kms.Key(stack, 'Restricted', { enableKeyRotation: true, pendingWindow: Duration.days(7), removalPolicy: RemovalPolicy.DESTROY });
      restrictGrantsToAwsServices(restricted);
      new kms.Key(stack, 'Plain', { enableKeyRotation: true, pendingWindow: Duration.days(7), removalPolicy: RemovalPolicy.DESTROY });
      const run = runControlTower(app, [stack]);
      const kmsFailures = run.violations.filter((f) => f.control === 'CT.KMS.PR.3');
      expect(kmsFailures.map((f) => f.logicalId)).toEqual([expect.stringMatching(/^Plain/)]);
      // AWS KMS developer guide, condition keys kms:GrantIsForAWSResource / aws:PrincipalIsAWSService.
      const restrictedKey = Object.entries(run.templates.Keys.Resources as Record<string, any>).find(([id]) => id.startsWith('Restricted'))![1];
      expect(restrictedKey.Properties.KeyPolicy.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 'kms:CreateGrant',
          Principal: { AWS: '*' },
          Resource: '*',
          Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
        }),
      );
    } finally {
      out.cleanup();
    }
  }, 120_000);

  it('GIVEN the default configuration WHEN all 237 rules run THEN they find exactly what the selected rules find', () => {
    const findings = (allRules: boolean) => {
      const out = tempOutdir();
      try {
        const app = new App({ outdir: out.dir, context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
        const stacks = buildApp(app, loadConfig({ getContext: (key) => app.node.tryGetContext(key) }), { nag: false, imageRefreshToken: 'test-token' });
        const run = runControlTower(app, [stacks.foundation, stacks.service, stacks.api], { allRules });
        return { rules: run.rulesRun.length, found: [...run.violations, ...run.acknowledged].map(describeFinding).sort() };
      } finally {
        out.cleanup();
      }
    };
    const all = findings(true);
    const selected = findings(false);
    expect(all.rules).toBe(controlTowerRuleFiles().length);
    expect(selected.rules).toBeLessThan(all.rules);
    expect(selected.found).toEqual(all.found);
    expect(all.found.length).toBeGreaterThan(0);
  }, 240_000);

  it('GIVEN compute.platformVersion pinned to 1.4.0 THEN CT.ECS.PR.1 is acknowledged on the service with that reason, and not with LATEST', () => {
    const acknowledgedOn = (platformVersion: 'LATEST' | '1.4.0') => {
      const app = synth({ compute: { mode: 'fargate', platformVersion } });
      try {
        return app.stacks.service.node.findAll().flatMap((c) =>
          c.node.metadata
            .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && `${CFN_GUARD_PLUGIN_NAME}::${CONTROL_TOWER_RULES['CT.ECS.PR.1']}` in (m.data as object))
            .map((m) => [c.node.path, (m.data as Record<string, string>)[`${CFN_GUARD_PLUGIN_NAME}::${CONTROL_TOWER_RULES['CT.ECS.PR.1']}`]]),
        );
      } finally {
        app.cleanup();
      }
    };
    expect(acknowledgedOn('LATEST')).toEqual([]);
    expect(acknowledgedOn('1.4.0')).toEqual([['FaceVerification-dev-Service/Face/Service', expect.stringMatching(/^\[CT\.ECS\.PR\.1\] .*pinned to 1\.4\.0 by configuration/)]]);
  }, 60_000);

  it('THEN every control id in lib/control-tower.ts names the Guard rule that reports it', () => {
    const files = controlTowerRuleFiles();
    for (const [control, rule] of Object.entries(CONTROL_TOWER_RULES)) {
      const file = files.find((f) => readFileSync(f, 'utf8').includes(`[${control}]:`));
      expect(file, control).toBeDefined();
      expect(readFileSync(file!, 'utf8'), control).toMatch(new RegExp(`^rule ${rule} when`, 'm'));
    }
  });
});
