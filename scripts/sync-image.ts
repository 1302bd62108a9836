/**
 * `npm run sync-image -- --stage <name> [--region r] [--function-name n] [--outputs file] [--force]`
 *
 * Invokes the deployed image mirror function once (`{"action":"sync"}`), waits
 * for it (up to Lambda's 15 minutes), prints its answer and the tail of its log
 * (per-layer progress lines). Exit code 0 on success, 1 when the function
 * failed, 2 on a usage error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';

/** Parsed command line. */
export interface SyncImageArgs {
  readonly stage: string;
  readonly region?: string;
  /** Explicit function name (wins over cdk-outputs.json and the default). */
  readonly functionName?: string;
  /** `cdk deploy --outputs-file` result to read `ImageMirrorFunctionName` from. @default cdk-outputs.json */
  readonly outputsFile: string;
  /** Retry a rollout that was rolled back before (`{"action":"sync","force":true}`). */
  readonly force: boolean;
}

/** A command-line mistake; `main` prints it with the usage text and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const USAGE = `usage: npm run sync-image -- --stage <name> [--region <region>] [--function-name <name>] [--outputs <cdk-outputs.json>] [--force]

Invokes the deployed image-mirror function once (mirror mode) and prints its answer
and log tail. Needs AWS credentials. Exit code 0 on success, 1 when the function failed,
2 on a usage error.

  --stage <name>           the deployed stage (e.g. dev)
  --region <region>        AWS region (default: the SDK's, from AWS_REGION or the profile)
  --function-name <name>   function to invoke (default: ImageMirrorFunctionName from --outputs, else face-verification-<stage>-image-mirror)
  --outputs <file>         cdk deploy --outputs-file result (default cdk-outputs.json)
  --force                  retry a rollout that was rolled back before
  -h, --help               this text`;

// Stage names end up in resource names: keep them to what CDK stack names allow.
const STAGE = /^[A-Za-z][A-Za-z0-9-]{0,62}$/;

/**
 * Parses `process.argv.slice(2)`.
 * @throws UsageError for unknown flags, a missing or invalid `--stage`, or `--help`.
 */
export function parseSyncImageArgs(argv: readonly string[]): SyncImageArgs {
  let values: { stage?: string; region?: string; 'function-name'?: string; outputs?: string; force?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        stage: { type: 'string' },
        region: { type: 'string' },
        'function-name': { type: 'string' },
        outputs: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) throw new UsageError('help requested');
  if (!values.stage) throw new UsageError('--stage is required');
  if (!STAGE.test(values.stage)) throw new UsageError(`--stage "${values.stage}" must start with a letter and use letters, digits and "-"`);
  return {
    stage: values.stage,
    ...(values.region ? { region: values.region } : {}),
    ...(values['function-name'] ? { functionName: values['function-name'] } : {}),
    outputsFile: values.outputs ?? 'cdk-outputs.json',
    force: values.force ?? false,
  };
}

/** Where the function name came from. */
export type FunctionNameSource = 'flag' | 'outputs' | 'default';

/**
 * The function to invoke: `--function-name`, else `ImageMirrorFunctionName`
 * from the outputs file (the stack whose name contains the stage, or the only
 * stack that has the key), else `face-verification-<stage>-image-mirror`.
 */
export function resolveFunctionName(args: SyncImageArgs, cwd = process.cwd()): { name: string; source: FunctionNameSource } {
  if (args.functionName) return { name: args.functionName, source: 'flag' };
  const file = resolve(cwd, args.outputsFile);
  if (existsSync(file)) {
    let outputs: Record<string, Record<string, unknown>>;
    try {
      outputs = JSON.parse(readFileSync(file, 'utf8')) as typeof outputs;
    } catch {
      throw new UsageError(`${args.outputsFile} is not valid JSON`);
    }
    const candidates = Object.entries(outputs ?? {}).filter(([, o]) => typeof o?.ImageMirrorFunctionName === 'string');
    const stage = args.stage.toLowerCase();
    const chosen = candidates.find(([stack]) => stack.toLowerCase().includes(stage)) ?? (candidates.length === 1 ? candidates[0] : undefined);
    if (chosen) return { name: chosen[1].ImageMirrorFunctionName as string, source: 'outputs' };
  }
  return { name: `face-verification-${args.stage}-image-mirror`, source: 'default' };
}

function mib(bytes: unknown): string {
  return typeof bytes === 'number' ? `${(bytes / 1048576).toFixed(1)} MiB` : '?';
}

/**
 * Decodes Lambda's `LogResult` (base64, last 4 KB of the log) into readable
 * lines; Powertools JSON lines become `level message layer done / total`.
 */
export function formatLogTail(logResultBase64: string | undefined): string[] {
  if (!logResultBase64) return [];
  const text = Buffer.from(logResultBase64, 'base64').toString('utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const start = line.indexOf('{');
      if (start < 0) return line;
      try {
        const entry = JSON.parse(line.slice(start)) as Record<string, unknown>;
        if (typeof entry.message !== 'string') return line;
        const level = typeof entry.level === 'string' ? entry.level.padEnd(5) : 'INFO ';
        const parts = [level, entry.message];
        if (typeof entry.layer === 'string') parts.push(entry.layer);
        if (typeof entry.bytesTotal === 'number') {
          const pct = entry.bytesTotal > 0 ? ` (${Math.floor(((entry.bytesDone as number) * 100) / entry.bytesTotal)} %)` : '';
          parts.push(`${mib(entry.bytesDone)} / ${mib(entry.bytesTotal)}${pct}`);
        }
        if (typeof entry.digest === 'string' && typeof entry.layer !== 'string') parts.push(entry.digest);
        if (typeof entry.code === 'string') parts.push(`[${entry.code}] ${String(entry.reason ?? '')}`);
        return parts.join(' ');
      } catch {
        return line; // a partial first line: the tail starts mid-line
      }
    });
}

/** Collaborators, replaceable in tests. */
export interface SyncImageDeps {
  readonly lambda?: LambdaClient;
  readonly out?: (line: string) => void;
  readonly cwd?: string;
}

/**
 * Invokes the mirror function and prints the result and log tail.
 * @returns the process exit code: 0 success, 1 function error.
 */
export async function runSyncImage(args: SyncImageArgs, deps: SyncImageDeps = {}): Promise<number> {
  const out = deps.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const { name, source } = resolveFunctionName(args, deps.cwd);
  const lambda =
    deps.lambda ??
    new LambdaClient({
      ...(args.region ? { region: args.region } : {}),
      // One attempt: a retried 15-minute invoke would start a second copy.
      maxAttempts: 1,
      // The mirror may run up to Lambda's 15-minute limit; leave a minute for the answer.
      requestHandler: { requestTimeout: 16 * 60_000 },
    });
  out(`invoking ${name} (${source === 'flag' ? '--function-name' : source === 'outputs' ? args.outputsFile : 'default name'})...`);
  const started = Date.now();
  const res = await lambda.send(
    new InvokeCommand({
      FunctionName: name,
      InvocationType: 'RequestResponse',
      LogType: 'Tail',
      Payload: new TextEncoder().encode(JSON.stringify({ action: 'sync', ...(args.force ? { force: true } : {}) })),
    }),
  );
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const payloadText = res.Payload ? new TextDecoder().decode(res.Payload) : '';
  let payload: Record<string, unknown> = {};
  try {
    payload = payloadText ? (JSON.parse(payloadText) as Record<string, unknown>) : {};
  } catch {
    payload = { raw: payloadText };
  }
  const tail = formatLogTail(res.LogResult);
  if (tail.length > 0) {
    out('--- log tail ---');
    for (const line of tail) out(line);
    out('---');
  }
  if (res.FunctionError) {
    out(`sync failed after ${seconds} s: ${String(payload.errorType ?? res.FunctionError)}: ${String(payload.errorMessage ?? payloadText)}`);
    return 1;
  }
  out(JSON.stringify(payload, null, 2));
  out(
    `synced in ${seconds} s: ${String(payload.digest)} (copied ${String(payload.copied)} blobs, ${mib(payload.bytesCopied)}; ` +
      `skipped ${String(payload.skipped)}; ${payload.rolledOut ? 'new ECS deployment started' : 'no ECS deployment'})`,
  );
  return 0;
}

async function main(): Promise<void> {
  let args: SyncImageArgs;
  try {
    args = parseSyncImageArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    // --help is an answer, not a mistake: usage on stdout, exit 0.
    if (err.message === 'help requested') {
      process.stdout.write(`${USAGE}\n`);
      process.exitCode = 0;
      return;
    }
    process.stderr.write(`${err.message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  process.exitCode = await runSyncImage(args);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    process.stderr.write(`sync-image: ${(err as Error).name}: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
