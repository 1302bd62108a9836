/**
 * `npm run docs:config`: writes docs/configuration.md from the zod schema of the deployment
 * configuration (lib/config.ts AppConfigSchema: field names, types, bounds, defaults and the
 * `.describe()` texts), so the reference cannot drift from what synth accepts.
 * test/scripts/config-doc.test.ts fails when the file and the schema disagree.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { AppConfigSchema, PROJECT_DIR } from '../lib/config.js';
import { cliOrExit } from './cli.js';

/** Where the generated reference lives. */
export const CONFIG_DOC_PATH = join(PROJECT_DIR, 'docs', 'configuration.md');

type JsonSchema = {
  type?: string;
  description?: string;
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
};

interface Row {
  readonly field: string;
  readonly type: string;
  readonly fallback: string;
  readonly meaning: string;
}

const code = (value: unknown) => `\`${JSON.stringify(value)}\``;
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function bounds(schema: JsonSchema): string {
  const low = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? `>${schema.exclusiveMinimum}` : undefined);
  const high = schema.maximum;
  if (low !== undefined && high !== undefined) return ` ${low}..${high}`;
  if (low !== undefined) return ` >= ${String(low).replace('>', '')}`.replace('>= >', '> ');
  if (high !== undefined) return ` <= ${high}`;
  return '';
}

function typeOf(schema: JsonSchema): string {
  if (schema.const !== undefined) return code(schema.const);
  if (schema.enum) return schema.enum.map(code).join(' | ');
  const variants = schema.oneOf ?? schema.anyOf;
  if (variants) {
    if (variants.every((v) => v.const !== undefined)) return variants.map((v) => code(v.const)).join(' | ');
    return variants
      .map((v) => (v.type === 'object' && v.properties ? `{ ${Object.keys(v.properties).map((k) => (v.required?.includes(k) ? k : `${k}?`)).join(', ')} }` : typeOf(v)))
      .join(' | ');
  }
  switch (schema.type) {
    case 'integer':
    case 'number':
      return `${schema.type}${bounds(schema)}`;
    case 'array': {
      const count = schema.minItems !== undefined || schema.maxItems !== undefined ? ` (${schema.minItems ?? 0}..${schema.maxItems ?? 'n'} items)` : '';
      return `array of ${schema.items ? typeOf(schema.items) : 'any'}${count}`;
    }
    case 'string':
      return schema.maxLength !== undefined ? `string (${schema.minLength ?? 0}..${schema.maxLength} chars)` : 'string';
    default:
      return schema.type ?? 'any';
  }
}

/** A union of objects told apart by `mode` (the discriminated unions of lib/config.ts). */
function modeVariants(schema: JsonSchema): JsonSchema[] | undefined {
  const variants = schema.oneOf ?? schema.anyOf;
  if (!variants || !variants.every((v) => v.properties?.mode?.const !== undefined)) return undefined;
  return variants;
}

function walk(schema: JsonSchema, path: string, required: boolean, rows: Row[], sections: Array<{ title: string; rows: Row[]; intro: string }>): void {
  const fallback = schema.default !== undefined ? code(schema.default) : required ? 'required' : '-';
  const variants = modeVariants(schema);
  if (variants) {
    const modes = variants.map((v) => v.properties!.mode!.const);
    rows.push({ field: `\`${path}.mode\``, type: modes.map(code).join(' | '), fallback: schema.default !== undefined ? code((schema.default as { mode?: unknown }).mode) : 'required', meaning: `${schema.description ?? ''} The other fields depend on the mode: see [${path}](#${anchor(path)}).`.trim() });
    for (const variant of variants) {
      const mode = variant.properties!.mode!.const;
      const sub: Row[] = [];
      for (const [key, child] of Object.entries(variant.properties!)) {
        if (key === 'mode') continue;
        walk(child, `${path}.${key}`, variant.required?.includes(key) ?? false, sub, sections);
      }
      sections.push({ title: path, intro: `\`"mode": ${JSON.stringify(mode)}\`: ${variant.properties!.mode!.description ?? ''}`.trim(), rows: sub });
    }
    return;
  }
  if (schema.type === 'array' && schema.items?.type === 'object' && schema.items.properties) {
    rows.push({ field: `\`${path}\``, type: `array of object${typeOf(schema).replace(/^array of object/, '')}`, fallback, meaning: schema.description ?? '' });
    walk(schema.items, `${path}[]`, false, rows, sections);
    return;
  }
  if (schema.type === 'object' && schema.properties) {
    if (schema.description) rows.push({ field: `\`${path}\``, type: 'object', fallback: schema.default !== undefined ? code(schema.default) : '-', meaning: schema.description });
    for (const [key, child] of Object.entries(schema.properties)) walk(child, path ? `${path}.${key}` : key, schema.required?.includes(key) ?? false, rows, sections);
    return;
  }
  rows.push({ field: `\`${path}\``, type: typeOf(schema), fallback, meaning: schema.description ?? '' });
}

/** GitHub's heading anchor for a section titled `` `path` `` (backticks and dots dropped). */
function anchor(path: string): string {
  return path.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');
}

function table(rows: readonly Row[]): string[] {
  return ['| field | type | default | meaning |', '| --- | --- | --- | --- |', ...rows.map((r) => `| ${r.field} | ${cell(r.type)} | ${cell(r.fallback)} | ${cell(r.meaning)} |`)];
}

/** The Markdown of docs/configuration.md, from the schema alone (deterministic). */
export function renderConfigDoc(): string {
  const schema = z.toJSONSchema(AppConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const rows: Row[] = [];
  const sections: Array<{ title: string; rows: Row[]; intro: string }> = [];
  walk(schema, '', false, rows, sections);
  const grouped = new Map<string, Array<{ intro: string; rows: Row[] }>>();
  for (const section of sections) grouped.set(section.title, [...(grouped.get(section.title) ?? []), section]);
  return [
    '# Configuration reference',
    '',
    '<!-- Generated by `npm run docs:config` from lib/config.ts (AppConfigSchema). Do not edit by hand: change the schema\'s `.describe()` texts and run the command again. -->',
    '',
    'Every field has a default: `{}` is the default deployment. Set fields in `cdk.json` under',
    '`context.faceVerification`, or in `config/<stage>.json` selected with `-c stage=<stage>` (merged over',
    '`cdk.json`; a stage other than `dev` needs its file). A bad value stops `cdk synth` with a message naming',
    'the field. Examples: `config/*.json`. How to deploy: [deploy.md](deploy.md).',
    '',
    ...table(rows),
    '',
    ...[...grouped.entries()].flatMap(([title, variants]) => [
      `## \`${title}\``,
      '',
      ...variants.flatMap((variant) => [variant.intro, '', ...(variant.rows.length > 0 ? table(variant.rows) : ['No other fields.']), '']),
    ]),
  ].join('\n');
}

/** `npm run docs:config -- --help`. */
export const CONFIG_DOC_USAGE = `usage: npm run docs:config

Rewrites docs/configuration.md from the configuration schema in lib/config.ts.
Run it after changing a field, a default or a .describe() text there; npm test fails until you do.
  -h, --help   this text`;

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  cliOrExit(process.argv.slice(2), { usage: CONFIG_DOC_USAGE });
  writeFileSync(CONFIG_DOC_PATH, renderConfigDoc());
  process.stdout.write('wrote docs/configuration.md\n');
}
