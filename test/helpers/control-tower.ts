/**
 * Test helper: runs the AWS Control Tower proactive controls (the Guard rules
 * and the cfn-guard binary shipped in `@cdklabs/cdk-validator-cfnguard`) over
 * an app's synthesized templates, offline, and sorts each failing resource into
 * "acknowledged in the code" or not. Acknowledgements are the ones
 * lib/control-tower.ts writes with `Validations.of(construct).acknowledge` (id
 * `cdk-validator-cfnguard::<rule>`), read back from the construct tree.
 *
 * cfn-guard's own JSON output is parsed here rather than through the package's
 * validation plugin: the plugin drops failures whose check is a missing
 * property (it reported no CT.AUTOSCALING.PR.6 for the GPU group that the CLI
 * flags), and a silently missed failure is what this test exists to prevent.
 *
 * Only rule files that name a resource type present in the templates run (a
 * rule for an absent type can only SKIP; a file naming no type always runs):
 * about 60 of 237 files, several times faster. The test pins that this
 * selection finds exactly what all 237 rules find.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CfnResource, Validations, type App, type Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { CFN_GUARD_PLUGIN_NAME } from '../../lib/control-tower.js';

const require = createRequire(import.meta.url);
/** The package's root directory (holds `rules/` and `bin/`). */
export const CFN_GUARD_PACKAGE_DIR = dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json'));
/** The Control Tower rule directory the package ships. */
export const CONTROL_TOWER_RULES_DIR = join(CFN_GUARD_PACKAGE_DIR, 'rules', 'control-tower', 'cfn-guard');

/** Every `.guard` file under the Control Tower rule directory. */
export function controlTowerRuleFiles(dir = CONTROL_TOWER_RULES_DIR): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return controlTowerRuleFiles(path);
    return path.endsWith('.guard') ? [path] : [];
  });
}

/**
 * The resource types a rule file is about: every `AWS::<Service>::<Type>` it
 * names (its type constants and its "Reports on:" header), lower-cased: the
 * headers have typos in case (ct-autoscaling-pr-6: "AutoscalingGroup").
 * Empty when the file names none (such a file always runs).
 */
export function ruleTypes(ruleFile: string): string[] {
  const names = readFileSync(ruleFile, 'utf8').match(/AWS::[A-Za-z0-9]+::[A-Za-z0-9]+/g) ?? [];
  return [...new Set(names.map((name) => name.toLowerCase()))];
}

/** The rule files that can apply to templates holding `types` (every file that names one of them, or none). */
export function rulesFor(types: Iterable<string>, files = controlTowerRuleFiles()): string[] {
  const present = new Set([...types].map((type) => type.toLowerCase()));
  return files.filter((file) => {
    const named = ruleTypes(file);
    return named.length === 0 || named.some((type) => present.has(type));
  });
}

/** The cfn-guard binary for this machine, made executable (npm does not keep the mode everywhere). */
export function guardBinary(): string {
  const platform = process.platform === 'darwin' ? 'macos' : 'ubuntu';
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  const binary = join(CFN_GUARD_PACKAGE_DIR, 'bin', platform, arch, 'cfn-guard');
  if (!existsSync(binary)) throw new Error(`cfn-guard binary not found at ${binary}`);
  if ((statSync(binary).mode & 0o111) === 0) chmodSync(binary, 0o755);
  return binary;
}

/** One resource failing one control. */
export interface GuardFinding {
  /** e.g. `CT.LAMBDA.PR.3` (from the rule's message). */
  readonly control: string;
  /** The Guard rule name (what an acknowledgement names). */
  readonly rule: string;
  /** Stack name of the template. */
  readonly stack: string;
  readonly logicalId: string;
  /** The construct path of the resource ('(unknown)' when no construct has that logical id). */
  readonly constructPath: string;
  /** Acknowledged findings only: the acknowledgement that covers it. */
  readonly acknowledgement?: GuardAcknowledgement;
}

/** An acknowledgement of a cfn-guard rule recorded in the construct tree (`Validations.of(c).acknowledge`). */
export interface GuardAcknowledgement {
  /** `cdk-validator-cfnguard::<rule>` */
  readonly id: string;
  readonly path: string;
  readonly reason: string;
}

export interface ControlTowerRun {
  /** Failures nobody acknowledged. */
  readonly violations: GuardFinding[];
  /** Failures acknowledged in the code. */
  readonly acknowledged: GuardFinding[];
  /** Every cfn-guard acknowledgement in the construct tree. */
  readonly acknowledgements: GuardAcknowledgement[];
  /** The rule files cfn-guard ran. */
  readonly rulesRun: string[];
  /** The synthesized templates by stack name. */
  readonly templates: Record<string, any>;
  /** Milliseconds cfn-guard took. */
  readonly guardMs: number;
}

/**
 * Walks one not-compliant rule of cfn-guard's JSON output: the control id comes
 * from the nearest custom message ("[CT.X.PR.n]: ..."), the resource from any
 * property path "/Resources/<logicalId>/...". Both resolved and unresolved
 * (missing property) checks carry such a path.
 */
function walkGuardResult(node: unknown, control: string | undefined, out: Set<string>): void {
  if (Array.isArray(node)) {
    for (const child of node) walkGuardResult(child, control, out);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const record = node as Record<string, unknown>;
  const message = (record.messages as { custom_message?: string } | undefined)?.custom_message;
  const id = message ? /\[(CT\.[A-Z0-9]+\.PR\.\d+)\]/.exec(message)?.[1] : undefined;
  const current = id ?? control;
  for (const [key, value] of Object.entries(record)) {
    if (key === 'path' && typeof value === 'string' && value.startsWith('/Resources/')) {
      out.add(`${current ?? '(no control id)'}\u0000${value.split('/')[2]}`);
    } else {
      walkGuardResult(value, current, out);
    }
  }
}

/**
 * Runs cfn-guard over template files and returns one entry per (file, rule,
 * control, logical id). Exit codes 0 (pass) and 19 (failures) are results;
 * anything else is an error.
 */
export function guardValidate(ruleFiles: readonly string[], templateFiles: readonly string[]): Array<{ file: string; rule: string; control: string; logicalId: string }> {
  const result = spawnSync(
    guardBinary(),
    ['validate', ...ruleFiles.flatMap((r) => ['--rules', r]), ...templateFiles.flatMap((d) => ['--data', d]), '--output-format', 'json', '--show-summary', 'none', '--structured'],
    { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 },
  );
  if (result.error) throw result.error;
  if (result.status !== 0 && result.status !== 19) throw new Error(`cfn-guard exited with ${result.status}: ${result.stderr.slice(0, 2000)}`);
  const files = JSON.parse(result.stdout) as Array<{ name: string; not_compliant?: Array<{ Rule: { name: string } }> }>;
  if (files.length !== templateFiles.length) throw new Error(`cfn-guard reported ${files.length} files for ${templateFiles.length} templates`);
  return files.flatMap((file) =>
    (file.not_compliant ?? []).flatMap((entry) => {
      const found = new Set<string>();
      walkGuardResult(entry, undefined, found);
      if (found.size === 0) found.add('(no control id)\u0000(unknown)');
      return [...found].map((key) => {
        const [control, logicalId] = key.split('\u0000') as [string, string];
        return { file: file.name, rule: entry.Rule.name, control, logicalId };
      });
    }),
  );
}

function acknowledgementsIn(root: IConstruct): GuardAcknowledgement[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
      .filter(([id]) => id.startsWith(`${CFN_GUARD_PLUGIN_NAME}::`))
      .map(([id, reason]) => ({ id, path: construct.node.path, reason })),
  );
}

/**
 * Synthesizes `app` (already holding `stacks`) into its outdir, runs the
 * Control Tower rules for the resource types in the templates, and sorts each
 * failure into acknowledged or not. An acknowledgement covers the construct it
 * is on and everything below it (the rule aws-cdk-lib's validation report and
 * cdk-nag apply too).
 */
export function runControlTower(app: App, stacks: readonly Stack[], options: { readonly allRules?: boolean } = {}): ControlTowerRun {
  const assembly = app.synth();
  const templates: Record<string, any> = {};
  const types = new Set<string>();
  const files: Record<string, Stack> = {};
  for (const stack of stacks) {
    const file = join(assembly.directory, stack.templateFile);
    const template = JSON.parse(readFileSync(file, 'utf8'));
    templates[stack.stackName] = template;
    files[file] = stack;
    for (const resource of Object.values(template.Resources as Record<string, any>)) types.add(resource.Type);
  }
  // A rule about types that are all absent can only SKIP.
  const rulesRun = options.allRules ? controlTowerRuleFiles() : rulesFor(types);
  const started = Date.now();
  const raw = guardValidate(rulesRun, Object.keys(files));
  const guardMs = Date.now() - started;

  const pathOf = new Map<string, string>();
  for (const stack of stacks) {
    for (const construct of stack.node.findAll()) {
      if (CfnResource.isCfnResource(construct) && construct.stack === stack) {
        pathOf.set(`${stack.stackName}\u0000${stack.resolve(construct.logicalId)}`, construct.node.path);
      }
    }
  }
  const acknowledgements = acknowledgementsIn(app);
  const violations: GuardFinding[] = [];
  const acknowledged: GuardFinding[] = [];
  for (const entry of raw) {
    const stack = files[entry.file] ?? stacks.find((s) => entry.file.endsWith(s.templateFile));
    const stackName = stack?.stackName ?? entry.file;
    const constructPath = pathOf.get(`${stackName}\u0000${entry.logicalId}`) ?? '(unknown)';
    const id = `${CFN_GUARD_PLUGIN_NAME}::${entry.rule}`;
    // The closest acknowledgement on the resource's construct or a parent.
    const acknowledgement = constructPath === '(unknown)'
      ? undefined
      : acknowledgements
          .filter((a) => a.id === id && (constructPath === a.path || constructPath.startsWith(`${a.path}/`)))
          .sort((a, b) => b.path.length - a.path.length)[0];
    const finding: GuardFinding = { control: entry.control, rule: entry.rule, stack: stackName, logicalId: entry.logicalId, constructPath, ...(acknowledgement ? { acknowledgement } : {}) };
    (acknowledgement ? acknowledged : violations).push(finding);
  }
  return { violations, acknowledged, acknowledgements, rulesRun, templates, guardMs };
}

/** A fresh output directory for one synth. */
export function tempOutdir(prefix = 'face-ct-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
