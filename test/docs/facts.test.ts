/**
 * Statements in the docs that the synthesized templates decide (issue 9, finding 12): the number
 * of customer-managed KMS keys, alarms, WAF rules, secrets and interface endpoints in the cost table,
 * the log retention, and the retained resources in the clean-up list.
 * Read from the default app's template snapshots (test/lib/app.test.ts keeps them current).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_DIR } from '../../lib/config.js';

const STACKS = ['foundation', 'service', 'api'] as const;
const resources = STACKS.flatMap((stack) =>
  Object.values((JSON.parse(readFileSync(join(PROJECT_DIR, 'test', 'lib', '__snapshots__', `${stack}-stack.template.json`), 'utf8')) as { Resources: Record<string, any> }).Resources),
);
const operations = readFileSync(join(PROJECT_DIR, 'docs', 'operations.md'), 'utf8');
const kept = (r: any) => r.DeletionPolicy === 'Retain' || r.DeletionPolicy === 'RetainExceptOnCreate';

describe('docs/operations.md against the templates', () => {
  it('GIVEN the default templates WHEN KMS keys are counted THEN the cost table states that number at $1 each', () => {
    const keys = resources.filter((r) => r.Type === 'AWS::KMS::Key');
    expect(operations).toContain(`KMS keys (${keys.length}:`);
    expect(operations).toContain(`$${keys.length} + `);
  });

  it('GIVEN the retained KMS keys (log encryption, one per stack) WHEN the clean-up list is read THEN it names them with how to delete them', () => {
    const retainedKeys = resources.filter((r) => r.Type === 'AWS::KMS::Key' && kept(r));
    expect(retainedKeys.map((r) => r.Properties.Description)).toEqual(STACKS.map(() => expect.stringMatching(/^Encrypts the CloudWatch log groups of /)));
    const words = ['zero', 'one', 'two', 'three', 'four', 'five'];
    expect(operations).toContain(`the ${words[retainedKeys.length]} log-encryption KMS keys, one per stack`);
    expect(operations).toContain('aws kms schedule-key-deletion');
  });

  it('GIVEN every other retained resource type WHEN the clean-up list is read THEN each one is named', () => {
    const named: Record<string, RegExp> = {
      'AWS::SecretsManager::Secret': /the secrets `face-verification\/<stage>\/activation-key`/,
      'AWS::ECR::Repository': /the mirror's ECR repository/,
      'AWS::IAM::Role': /the API Gateway CloudWatch Logs role/,
      'AWS::ApiGateway::Account': /the account setting that names it/,
      'AWS::KMS::Key': /log-encryption KMS keys/,
    };
    for (const type of new Set(resources.filter(kept).map((r) => r.Type as string))) {
      expect(named[type], `${type} is retained: add it to the Cleanup list of docs/operations.md`).toBeDefined();
      expect(operations).toMatch(named[type]!);
    }
  });

  it('GIVEN the default templates WHEN alarms, WAF rules, secrets and interface endpoints are counted THEN Alarms and Costs state those numbers', () => {
    const count = (type: string) => resources.filter((r) => r.Type === type).length;
    const alarms = count('AWS::CloudWatch::Alarm');
    expect(operations).toContain(`${alarms} CloudWatch alarms by default`);
    expect(operations).toContain(`alarms (${alarms})`);
    expect(operations).toContain(`$${(alarms * 0.1).toFixed(2)} + $3`);
    const rules = resources.filter((r) => r.Type === 'AWS::WAFv2::WebACL').flatMap((r) => r.Properties.Rules as unknown[]).length;
    expect(operations).toContain(`WAF (web ACL + ${rules} rules`);
    expect(operations).toContain(`**$${5 + rules}** + $0.60 per million requests`);
    const secrets = count('AWS::SecretsManager::Secret');
    expect(operations).toContain(`Secrets Manager (${secrets})`);
    expect(operations).toContain(`$${(secrets * 0.4).toFixed(2)} + $`);
    const interfaceEndpoints = resources.filter((r) => r.Type === 'AWS::EC2::VPCEndpoint' && r.Properties.VpcEndpointType === 'Interface').length;
    expect(operations).toContain(`${interfaceEndpoints} x 2 AZs: **$${(interfaceEndpoints * 2 * 0.01 * 730).toFixed(2)}**`);
    const retention = new Set(resources.filter((r) => r.Type === 'AWS::Logs::LogGroup').map((r) => r.Properties.RetentionInDays));
    expect([...retention]).toEqual([365]);
    expect(operations).toContain('logs are kept 365 days by default');
  });

  it('GIVEN the docs WHEN searched THEN no link or mention points at DESIGN.md or facts.md (they are not in the repository)', () => {
    for (const page of ['README.md', 'docs/deploy.md', 'docs/operations.md', 'docs/api.md', 'docs/development.md']) {
      expect(readFileSync(join(PROJECT_DIR, page), 'utf8'), page).not.toMatch(/DESIGN\.md|facts\.md/);
    }
  });
});
