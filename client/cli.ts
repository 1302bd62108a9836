/**
 * `npm run -s cli -- <command> ...`: the Face Verification API from a shell, on the typed client.
 * JSON answers on stdout; on any error one line on stderr and a non-zero exit code (see USAGE).
 * The API key or token is never printed.
 */
import { readFile } from 'node:fs/promises';
import { cliOrExit } from '../scripts/cli.js';
import {
  DEFAULT_BASE_URL,
  DEFAULT_MAX_RETRIES,
  DEFAULT_TIMEOUT_MS,
  FaceVerificationClient,
  FaceVerificationClientError,
  FaceVerificationError,
  imageFromFile,
  imageFromUrl,
  type Image,
} from './node.js';

/** Exit codes: documented in the usage and client/README.md. */
export const EXIT = {
  ok: 0,
  /** Unexpected failure (a bug): please report it. */
  internal: 1,
  /** Bad command line or an input file that cannot be read or understood; nothing was sent. */
  usage: 2,
  /** The API answered with an error (a problem: 4xx or 5xx). */
  api: 3,
  /** No usable answer: connection failed, timeout, or an answer that is not the API's. */
  network: 4,
} as const;

const COMMON_OPTIONS_TEXT = `options (every command):
  --url <base URL>        the API (env FACE_VERIFICATION_URL; default ${DEFAULT_BASE_URL})
  --api-key <key>         sent as "Authorization: ApiKey <key>" (env FACE_VERIFICATION_API_KEY;
                          prefer the variable: a flag shows in the process list)
  --bearer-token <jwt>    sent as "Authorization: Bearer <jwt>" (env FACE_VERIFICATION_BEARER_TOKEN)
  --timeout <ms>          per attempt (default ${DEFAULT_TIMEOUT_MS})
  --retries <n>           retries after a 429 or 503, honouring Retry-After (default ${DEFAULT_MAX_RETRIES})
  -h, --help              this text`;

const EXIT_TEXT = `exit codes: 0 success (JSON answer on stdout); 1 unexpected error; 2 bad command line or input
file (nothing sent); 3 the API answered with an error (one line on stderr: status, problem type,
detail, invalid fields, request id); 4 no usable answer (connection refused, timeout, not the API).`;

const COMMANDS = {
  detect: {
    args: ['image'],
    summary: 'detect-faces: the faces on an image (a file path, or an http(s) URL the server downloads)',
    faceCount: true,
  },
  embed: {
    args: ['image'],
    summary: 'get-face-embeddings: the faces on an image with their embeddings',
    faceCount: true,
  },
  compare: {
    args: ['embedding1.json', 'embedding2.json'],
    summary: 'compare-face-embeddings: the similarity of two embeddings (-1..100)',
    faceCount: false,
  },
  verify: {
    args: ['image1', 'image2'],
    summary: 'verify-faces (extension): the similarity of the largest face of each image, in one call',
    faceCount: false,
  },
  'compare-batch': {
    args: ['probe.json', 'candidates.json'],
    summary: 'compare-face-embeddings-batch (extension): one embedding against 1 to 1,000',
    faceCount: false,
  },
} as const;

type Command = keyof typeof COMMANDS;

const EMBEDDING_FILES_TEXT = `An embedding file (compare, and the probe of compare-batch) holds a JSON array of numbers,
an object {"embedding": [...]}, or a get-face-embeddings answer with exactly one face (the output
of "embed" with the default --max-face-count 1). A candidates file holds a JSON array of arrays,
an object {"embeddings": [[...], ...]}, or a get-face-embeddings answer (each face, in order).`;

export const USAGE = `usage: npm run -s cli -- <command> [options] <files>

Calls the Face Verification API with the typed client (client/). -s keeps npm's banner off stdout.

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${`${name} ${c.args.map((a) => `<${a}>`).join(' ')}${c.faceCount ? ' [--max-face-count N]' : ''}`.padEnd(56)}\n      ${c.summary}`)
  .join('\n')}

${COMMON_OPTIONS_TEXT}

${EMBEDDING_FILES_TEXT}

${EXIT_TEXT}

"npm run -s cli -- <command> --help" prints one command's usage.`;

function commandUsage(name: Command): string {
  const c = COMMANDS[name];
  return `usage: npm run -s cli -- ${name} ${c.args.map((a) => `<${a}>`).join(' ')}${c.faceCount ? ' [--max-face-count N]' : ''} [options]

${c.summary}.${c.faceCount ? '\n  --max-face-count <N>    faces to return, 1 to 10 (default 1: the largest)' : ''}
${name === 'compare' || name === 'compare-batch' ? `\n${EMBEDDING_FILES_TEXT}\n` : ''}
${COMMON_OPTIONS_TEXT}

${EXIT_TEXT}`;
}

const COMMON_OPTIONS = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  'bearer-token': { type: 'string' },
  timeout: { type: 'string' },
  retries: { type: 'string' },
} as const;

/** A usage or input-file problem: exit 2, nothing sent. */
class UsageError extends Error {}

/** The command: the first argument that is neither a flag nor a flag's value. */
function findCommand(argv: readonly string[]): number {
  const takesValue = new Set(['--url', '--api-key', '--bearer-token', '--timeout', '--retries', '--max-face-count']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (arg.startsWith('-')) {
      if (takesValue.has(arg)) i++;
      continue;
    }
    return i;
  }
  return -1;
}

function integerFlag(name: string, value: string | boolean | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value.trim()) || number < min) throw new UsageError(`--${name} must be an integer >= ${min}`);
  return number;
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${path} is not valid JSON`);
  }
}

const isNumberArray = (value: unknown): value is number[] => Array.isArray(value) && value.every((n) => typeof n === 'number');

/** One embedding from a file: an array, `{embedding}`, or a get-face-embeddings answer with one face. */
export function embeddingFrom(json: unknown, path: string): number[] {
  if (isNumberArray(json)) return json;
  const object = json as { embedding?: unknown; faces?: unknown };
  if (object && typeof object === 'object' && isNumberArray(object.embedding)) return object.embedding;
  if (object && typeof object === 'object' && Array.isArray(object.faces)) {
    const faces = object.faces as Array<{ embedding?: unknown }>;
    if (faces.length !== 1) throw new UsageError(`${path} holds ${faces.length} faces; give one embedding (embed with --max-face-count 1)`);
    if (isNumberArray(faces[0]?.embedding)) return faces[0].embedding;
  }
  throw new UsageError(`${path} holds no embedding: expected an array of numbers, {"embedding": [...]}, or a get-face-embeddings answer with one face`);
}

/** Candidates from a file: an array of arrays, `{embeddings}`, or a get-face-embeddings answer. */
export function embeddingsFrom(json: unknown, path: string): number[][] {
  const fail = () => new UsageError(`${path} holds no candidates: expected an array of arrays of numbers, {"embeddings": [[...], ...]}, or a get-face-embeddings answer`);
  const list = Array.isArray(json) ? json : (json as { embeddings?: unknown })?.embeddings;
  if (Array.isArray(list)) {
    if (!list.every(isNumberArray)) throw fail();
    return list;
  }
  const faces = (json as { faces?: unknown })?.faces;
  if (Array.isArray(faces)) {
    const embeddings = faces.map((face) => (face as { embedding?: unknown })?.embedding);
    if (faces.length === 0 || !embeddings.every(isNumberArray)) throw fail();
    return embeddings;
  }
  throw fail();
}

/** An image argument: an http(s) URL is sent as `{url}` (the server downloads it), anything else is a file. */
async function imageArg(arg: string): Promise<Image> {
  if (/^https?:\/\//i.test(arg)) {
    try {
      return imageFromUrl(arg);
    } catch (error) {
      throw new UsageError(`${arg.slice(0, 100)}: ${(error as Error).message}`);
    }
  }
  try {
    return await imageFromFile(arg);
  } catch (error) {
    throw new UsageError(`cannot read ${arg}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** One line for stderr: status, problem type, detail, invalid fields, request id. */
export function describeError(error: FaceVerificationError): string {
  const fields = error.errors.length > 0 ? `; ${error.errors.map((e) => `${e.field}: ${e.reason}`).join('; ')}` : '';
  // The detail usually repeats the first field error; only say what it does not already say.
  const detail = error.errors.length === 1 && error.detail.startsWith(`${error.errors[0]!.field}: `) ? error.detail : `${error.detail}${fields}`;
  return [`HTTP ${error.status} ${error.type}: ${detail}`, error.retryAfterMs !== undefined ? ` (retry after ${Math.ceil(error.retryAfterMs / 1000)} s)` : '', error.requestId ? ` (request id ${error.requestId})` : ''].join('');
}

/** Runs one command line; returns the exit code (prints the answer or the error). */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const at = findCommand(argv);
  const name = at >= 0 ? argv[at]! : undefined;
  if (name === undefined || !(name in COMMANDS)) {
    // No or unknown command: --help, unknown flags and unknown names are answered by cliOrExit.
    const { positionals } = cliOrExit(argv, { usage: USAGE, options: COMMON_OPTIONS, names: Object.keys(COMMANDS) });
    if (positionals.length === 0) {
      process.stderr.write(`a command is required\n${USAGE}\n`);
      return EXIT.usage;
    }
  }
  const command = name as Command;
  const spec = COMMANDS[command];
  const rest = [...argv.slice(0, at), ...argv.slice(at + 1)];
  const { values, positionals } = cliOrExit(rest, {
    usage: commandUsage(command),
    options: spec.faceCount ? { ...COMMON_OPTIONS, 'max-face-count': { type: 'string' } } : COMMON_OPTIONS,
    anyPositionals: true,
  });

  let client: FaceVerificationClient;
  let body: () => Promise<unknown>;
  try {
    if (positionals.length !== spec.args.length) {
      throw new UsageError(`${command} takes ${spec.args.map((a) => `<${a}>`).join(' ')}, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
    }
    const apiKey = (values['api-key'] as string | undefined) ?? (env.FACE_VERIFICATION_API_KEY || undefined);
    const bearerToken = (values['bearer-token'] as string | undefined) ?? (env.FACE_VERIFICATION_BEARER_TOKEN || undefined);
    if (apiKey !== undefined && bearerToken !== undefined) throw new UsageError('give an API key or a bearer token, not both (flags or FACE_VERIFICATION_* variables)');
    const maxFaceCount = integerFlag('max-face-count', values['max-face-count'], 0);
    try {
      client = new FaceVerificationClient({
        baseUrl: (values.url as string | undefined) ?? (env.FACE_VERIFICATION_URL || DEFAULT_BASE_URL),
        ...(apiKey !== undefined ? { apiKey } : {}),
        ...(bearerToken !== undefined ? { bearerToken } : {}),
        timeoutMs: integerFlag('timeout', values.timeout, 1) ?? DEFAULT_TIMEOUT_MS,
        maxRetries: integerFlag('retries', values.retries, 0) ?? DEFAULT_MAX_RETRIES,
        onRetry: ({ status, delayMs, retryAfterMs }) =>
          process.stderr.write(`HTTP ${status}: retrying in ${(delayMs / 1000).toFixed(1)} s${retryAfterMs !== undefined ? ` (Retry-After ${retryAfterMs / 1000} s)` : ''}\n`),
      });
    } catch (error) {
      // The client's messages name the option, never its value.
      throw new UsageError((error as Error).message);
    }
    const [a, b] = positionals as [string, string];
    const faceCount = maxFaceCount !== undefined ? { maxFaceCount } : {};
    // Inputs are read before anything is sent: a bad second file must not cost a call.
    switch (command) {
      case 'detect': {
        const image = await imageArg(a);
        body = () => client.detectFaces({ image, ...faceCount });
        break;
      }
      case 'embed': {
        const image = await imageArg(a);
        body = () => client.getFaceEmbeddings({ image, ...faceCount });
        break;
      }
      case 'compare': {
        const [e1, e2] = [embeddingFrom(await readJson(a), a), embeddingFrom(await readJson(b), b)];
        body = () => client.compareFaceEmbeddings({ embedding1: e1, embedding2: e2 });
        break;
      }
      case 'verify': {
        const [image1, image2] = [await imageArg(a), await imageArg(b)];
        body = () => client.verifyFaces({ image1, image2 });
        break;
      }
      case 'compare-batch': {
        const [probe, candidates] = [embeddingFrom(await readJson(a), a), embeddingsFrom(await readJson(b), b)];
        body = () => client.compareFaceEmbeddingsBatch({ embedding: probe, embeddings: candidates });
        break;
      }
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${command}: ${error.message}\n(npm run -s cli -- ${command} --help)\n`);
    return EXIT.usage;
  }

  try {
    const answer = await body();
    process.stdout.write(`${JSON.stringify(answer)}\n`);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof FaceVerificationError) {
      const hint = error.status === 401 && !values['api-key'] && !values['bearer-token'] && !env.FACE_VERIFICATION_API_KEY && !env.FACE_VERIFICATION_BEARER_TOKEN
        ? ' (no credentials given: set FACE_VERIFICATION_API_KEY or --api-key)'
        : '';
      process.stderr.write(`${command}: ${describeError(error)}${hint}\n`);
      return EXIT.api;
    }
    if (error instanceof FaceVerificationClientError) {
      process.stderr.write(`${command}: ${error.message}\n`);
      return EXIT.network;
    }
    throw error;
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      // Only the error's class: its message could quote an input.
      process.stderr.write(`unexpected error (${(error as Error)?.name ?? 'unknown'}); please report it\n`);
      process.exitCode = EXIT.internal;
    },
  );
}
