/**
 * docs/configuration.md is generated from the configuration schema (npm run docs:config):
 * the file on disk must be exactly what the schema renders today.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppConfigSchema, LOG_RETENTION_DAYS } from '../../lib/config.js';
import { CONFIG_DOC_PATH, renderConfigDoc } from '../../scripts/config-doc.js';

describe('docs/configuration.md', () => {
  it('GIVEN lib/config.ts WHEN the reference is rendered THEN docs/configuration.md is identical (else: npm run docs:config)', () => {
    const onDisk = existsSync(CONFIG_DOC_PATH) ? readFileSync(CONFIG_DOC_PATH, 'utf8') : '(missing)';
    const rendered = renderConfigDoc();
    expect(onDisk === rendered, 'docs/configuration.md disagrees with the schema in lib/config.ts: run `npm run docs:config` and commit the result').toBe(true);
  });

  it('GIVEN the schema WHEN rendered THEN every top-level field appears, with its default and the .describe() text', () => {
    const doc = renderConfigDoc();
    for (const key of Object.keys(z.toJSONSchema(AppConfigSchema, { io: 'input', unrepresentable: 'any' }).properties as object)) {
      expect(doc, key).toMatch(new RegExp(`\\| \`${key}[.\`\\[]`));
    }
    expect(doc).toContain('| `tasks.max` | integer 1..100 | `4` | Most running tasks. |');
    expect(doc).toContain('| `api.clients[].name` | string | required |');
    expect(doc).toContain(`one of ${LOG_RETENTION_DAYS.join(', ')}`);
    // Each mode of a discriminated union gets its own table.
    expect(doc).toMatch(/## `compute`\n\n`"mode": "fargate"`[\s\S]*`compute\.cpu`[\s\S]*`"mode": "ec2-gpu"`[\s\S]*`compute\.instanceType`/);
  });
});
