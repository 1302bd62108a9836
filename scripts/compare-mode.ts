/**
 * `npm run compare-mode -- --stage <stage> (--status | --check | --table | --forward [--reason <text>])`
 *
 * The operator's handle on table-mode compare (docs/score-table.md). It invokes the stage's
 * compare-check function:
 * - `--status`: what compare does now, who switched it, when and why;
 * - `--check`: run the live check now (the answer says whether table and container agree);
 * - `--table`: the explicit way back after a fallback. Refused unless the deployed table was
 *   calibrated on the image the ECS service runs now (read from ECS, as calibrate does) and a
 *   fresh live check agrees; then compare answers from the table again;
 * - `--forward`: send every compare to the container (e.g. before trying a new image by hand).
 * Exit code 0 when done, 1 when refused or failed, 2 on a usage error.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ECSClient } from '@aws-sdk/client-ecs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { CheckAnswer } from '../lambda/shared/compare-check.js';
import { compareCheckFunctionName } from '../lib/constructs/compare-check.js';
import { readStageOutputs, runningImageDigest } from './calibration/deployment.js';
import { cliOrExit } from './cli.js';

export const USAGE = 'usage: npm run compare-mode -- --stage <stage> (--status | --check | --table | --forward [--reason <text>]) [--outputs <cdk-outputs.json>] [--region <region>]';

/** Parsed command line. */
export interface CompareModeArgs {
  readonly stage: string;
  readonly action: 'status' | 'check' | 'table' | 'forward';
  readonly reason?: string;
  readonly outputsFile: string;
  readonly region?: string;
}

/** A command-line mistake (exit 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const COMPARE_MODE_OPTIONS = {
  stage: { type: 'string' },
  status: { type: 'boolean' },
  check: { type: 'boolean' },
  table: { type: 'boolean' },
  forward: { type: 'boolean' },
  reason: { type: 'string' },
  outputs: { type: 'string' },
  region: { type: 'string' },
} as const;

/** `npm run compare-mode -- --help`: the usage text. */
export const COMPARE_MODE_USAGE = `${USAGE}
  --status     what compare does now, who switched it, when and why
  --check      run the live check of the table against the container now
  --table      answer from the score table again (refused unless the table matches the running image and a fresh check agrees)
  --forward    send every compare to the container; --reason <text> is recorded
  Exit code 0: done; 1: refused or failed; 2: usage error. See docs/score-table.md.
  -h, --help   this text`;

export function parseCompareModeArgs(argv: readonly string[]): CompareModeArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: COMPARE_MODE_OPTIONS,
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const stage = values.stage;
  if (typeof stage !== 'string' || !/^[a-z][a-z0-9-]{0,19}$/.test(stage)) throw new UsageError('--stage <stage> is required (1-20 lower-case letters, digits or dashes)');
  const actions = (['status', 'check', 'table', 'forward'] as const).filter((a) => values[a] === true);
  if (actions.length !== 1) throw new UsageError('give exactly one of --status, --check, --table, --forward');
  if (values.reason !== undefined && actions[0] !== 'forward') throw new UsageError('--reason goes with --forward');
  return {
    stage,
    action: actions[0]!,
    ...(typeof values.reason === 'string' ? { reason: values.reason } : {}),
    outputsFile: typeof values.outputs === 'string' ? values.outputs : 'cdk-outputs.json',
    ...(typeof values.region === 'string' ? { region: values.region } : {}),
  };
}

/** Collaborators, replaceable in tests. */
export interface CompareModeDeps {
  readonly lambda?: LambdaClient;
  readonly ecs?: ECSClient;
  readonly out?: (line: string) => void;
  readonly cwd?: string;
}

/** Runs the command; returns the exit code. */
export async function runCompareMode(args: CompareModeArgs, deps: CompareModeDeps = {}): Promise<number> {
  const out = deps.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const clientConfig = args.region ? { region: args.region } : {};
  const lambda = deps.lambda ?? new LambdaClient(clientConfig);
  let functionName = compareCheckFunctionName(args.stage);
  let outputs: ReturnType<typeof readStageOutputs> | undefined;
  try {
    outputs = readStageOutputs(args.stage, args.outputsFile, deps.cwd);
    functionName = outputs.compareCheckFunctionName ?? functionName;
  } catch (error) {
    // --table needs the ECS service from the outputs; the other actions can do with the default name.
    if (args.action === 'table') {
      out(`compare-mode: ${(error as Error).message}`);
      return 1;
    }
  }

  async function invoke(payload: Record<string, unknown>): Promise<CheckAnswer> {
    const response = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(payload)) }));
    const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : '';
    if (response.FunctionError) throw new Error(`${functionName} failed: ${text.slice(0, 500)}`);
    return JSON.parse(text) as CheckAnswer;
  }

  try {
    if (args.action === 'table') {
      // The table must describe the image that runs now: the same rule synth and the mirror apply.
      const status = await invoke({ action: 'status' });
      const running = await runningImageDigest(deps.ecs ?? new ECSClient(clientConfig), outputs!);
      if (status.tableDigest !== running.digest) {
        out(`compare-mode: refused: the deployed table was calibrated on ${status.tableDigest ?? '(no digest)'}, the service runs ${running.digest}.`);
        out(`  Recalibrate: npm run calibrate -- --stage ${args.stage} --out <table.json>, set compare.scoreTableFile, npm run deploy, then run this again.`);
        return 1;
      }
      const answer = await invoke({ action: 'enable-table' });
      out(JSON.stringify(answer, null, 1));
      if (answer.refused) {
        out(`compare-mode: refused: ${answer.refused}`);
        return 1;
      }
      out(`compare-mode: compare answers from the score table (${answer.pairs} pairs agreed, image ${running.digest}).`);
      return 0;
    }
    const payload = args.action === 'forward' ? { action: 'forward', reason: args.reason ?? 'set by an operator (npm run compare-mode)' } : { action: args.action };
    const answer = await invoke(payload);
    out(JSON.stringify(answer, null, 1));
    out(`compare-mode: compare ${answer.mode === 'table' ? 'answers from the score table' : 'forwards every request to the container'}.`);
    return 0;
  } catch (error) {
    out(`compare-mode: ${(error as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // --help and unknown flags are answered before anything else (scripts/cli.ts).
  cliOrExit(process.argv.slice(2), { usage: COMPARE_MODE_USAGE, options: COMPARE_MODE_OPTIONS });
  let args: CompareModeArgs;
  try {
    args = parseCompareModeArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  runCompareMode(args).then((code) => process.exit(code));
}
