/**
 * The command-line contract every `npm run <script>` shares: `--help` / `-h`
 * prints the usage to stdout and exits 0; an unknown flag, a missing flag value
 * or an unknown name prints what was wrong plus the usage to stderr and exits 2.
 * Both happen before the script does any work (no server, no network, no file written).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** What a script accepts. */
export interface CliSpec {
  /** The full usage text (first line `usage: npm run ...`). */
  readonly usage: string;
  /** Flags, as for `node:util` parseArgs (`--help`/`-h` is added). @default none */
  readonly options?: NonNullable<ParseArgsConfig['options']>;
  /** Names accepted as positional arguments; undefined: no positionals at all. @default undefined */
  readonly names?: readonly string[];
  /** Accept any positional arguments (file paths); the script checks them. @default false */
  readonly anyPositionals?: boolean;
}

/** The parsed command line, or what to print and the exit code. */
export type CliParse =
  | { readonly kind: 'run'; readonly values: Record<string, string | boolean | undefined>; readonly positionals: readonly string[] }
  | { readonly kind: 'exit'; readonly code: 0 | 2; readonly stdout: string; readonly stderr: string };

/**
 * Parses `argv` (process.argv.slice(2)) against `spec` without side effects.
 * @returns `run` with the values, or `exit` with the text to print and the exit code
 */
export function parseCli(argv: readonly string[], spec: CliSpec): CliParse {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: spec.names !== undefined || spec.anyPositionals === true,
    }) as { values: Record<string, unknown>; positionals: string[] };
  } catch (error) {
    // node:util's messages name the flag ("Unknown option '--nope'...") and never echo values.
    return { kind: 'exit', code: 2, stdout: '', stderr: `${(error as Error).message}\n${spec.usage}\n` };
  }
  if (parsed.values.help) return { kind: 'exit', code: 0, stdout: `${spec.usage}\n`, stderr: '' };
  const unknown = spec.anyPositionals ? [] : parsed.positionals.filter((name) => !spec.names!.includes(name));
  if (unknown.length > 0) {
    return { kind: 'exit', code: 2, stdout: '', stderr: `unknown name${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')}; known: ${spec.names!.join(', ')}\n${spec.usage}\n` };
  }
  const { help: _help, ...values } = parsed.values;
  return { kind: 'run', values: values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
}

/**
 * `parseCli` for a script's entry point: prints and exits on `--help` or a
 * usage error, otherwise returns the values.
 */
export function cliOrExit(argv: readonly string[], spec: CliSpec): { values: Record<string, string | boolean | undefined>; positionals: readonly string[] } {
  const result = parseCli(argv, spec);
  if (result.kind === 'run') return result;
  if (result.stdout) process.stdout.write(result.stdout);
  if (result.stderr) process.stderr.write(result.stderr);
  process.exit(result.code);
}
