/**
 * Smoke test against any endpoint (the laptop gateway or a deployed stage):
 * the vendor guide's three calls plus the main error cases, with pass/fail and
 * latency per call, and the two extensions: verify-faces (the same photo twice; a
 * photo without a face) and compare-face-embeddings-batch (checked against the
 * single compares).
 *
 *   npm run smoke -- --url <base URL> --api-key <key> [--image <jpeg|png>] [--no-docs]
 *
 * The key may come from SMOKE_API_KEY instead of the command line (shell history).
 * Nothing printed contains the key, an image or an embedding: only statuses,
 * timings, counts and the server's problem `detail`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { cliOrExit } from './cli.js';

/** The three API paths and the docs page (vendor guide). */
const PATHS = {
  detectFaces: 'v1/face-verification/detect-faces',
  getFaceEmbeddings: 'v1/face-verification/get-face-embeddings',
  compareFaceEmbeddings: 'v1/face-verification/compare-face-embeddings',
  /** Extension (issue 11): one embedding against many. */
  compareFaceEmbeddingsBatch: 'v1/face-verification/compare-face-embeddings-batch',
  /** Extension (not in the vendor's API). */
  verifyFaces: 'v1/face-verification/verify-faces',
  swaggerUi: 'swagger/index.html',
} as const;

const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface SmokeOptions {
  /** Base URL, e.g. `http://127.0.0.1:8080` or the stack's `ApiUrl` output. */
  readonly url: string;
  /** A valid API key (sent as `Authorization: ApiKey <key>`). */
  readonly apiKey: string;
  /** JPEG/PNG with at least one face. @default face-api's demo/sample1.jpg */
  readonly imagePath?: string;
  /** Check GET /swagger/index.html too (off when docs are private or off). @default true */
  readonly docs?: boolean;
  /** Per-request timeout. @default 60000 (a cold GPU task can be slow) */
  readonly timeoutMs?: number;
  /** Where progress lines go. @default none */
  readonly log?: (line: string) => void;
}

export interface SmokeResult {
  readonly name: string;
  readonly passed: boolean;
  readonly status: number;
  readonly latencyMs: number;
  /** Why it failed, or a short note on what was seen. */
  readonly note: string;
}

export interface SmokeReport {
  readonly passed: boolean;
  readonly results: readonly SmokeResult[];
}

/** The default image: a real photo shipped with @vladmandic/face-api. */
export function defaultImagePath(): string {
  const dir = dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json'));
  return join(dir, 'demo', 'sample1.jpg');
}

/** CRC-32 of a PNG chunk (type + data). */
function crc32(bytes: Buffer): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

/** A valid 64x64 grey PNG: an image every engine decodes and finds no face on. */
export function faceFreePng(side = 64): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale, deflate, no filter method, no interlace
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(side, 0x80)]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(Array.from({ length: side }, () => row)))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: any;
  readonly latencyMs: number;
}

/** A failed expectation inside a check (its message becomes the result's note). */
class CheckFailed extends Error {}

function expectThat(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

/** Runs every check in order; never throws for a failed check (only for bad options). */
export async function runSmoke(options: SmokeOptions): Promise<SmokeReport> {
  if (!/^https?:\/\//.test(options.url)) throw new Error('--url must be an http(s) URL');
  if (!options.apiKey) throw new Error('--api-key (or SMOKE_API_KEY) is required');
  const base = options.url.endsWith('/') ? options.url : `${options.url}/`;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const log = options.log ?? (() => undefined);
  const imageBase64 = readFileSync(options.imagePath ?? defaultImagePath()).toString('base64');
  const auth = { authorization: `ApiKey ${options.apiKey}` };

  async function call(method: 'GET' | 'POST', path: string, body?: string, headers: Record<string, string> = auth): Promise<Reply> {
    const started = performance.now();
    const response = await fetch(new URL(path, base), {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    const latencyMs = performance.now() - started;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', body: parsed, latencyMs };
  }

  const results: SmokeResult[] = [];
  let embedding: number[] | undefined;

  async function check(name: string, run: () => Promise<{ reply: Reply; note: string }>): Promise<void> {
    let result: SmokeResult;
    try {
      const { reply, note } = await run();
      result = { name, passed: true, status: reply.status, latencyMs: reply.latencyMs, note };
    } catch (err) {
      const reply = (err as { reply?: Reply }).reply;
      result = {
        name,
        passed: false,
        status: reply?.status ?? 0,
        latencyMs: reply?.latencyMs ?? 0,
        note: err instanceof CheckFailed ? err.message : `request failed: ${(err as Error).name}: ${(err as Error).message}`,
      };
    }
    results.push(result);
    log(formatResult(result));
  }

  /** Runs a request and its assertions; a failed assertion carries the reply for the report. */
  async function expectReply(request: () => Promise<Reply>, assert: (reply: Reply) => string): Promise<{ reply: Reply; note: string }> {
    const reply = await request();
    try {
      return { reply, note: assert(reply) };
    } catch (err) {
      throw Object.assign(err as Error, { reply });
    }
  }

  const problemDetail = (reply: Reply) => (typeof reply.body?.detail === 'string' ? ` (${reply.body.detail.slice(0, 160)})` : '');
  const expectProblem = (reply: Reply, status: number, field?: string) => {
    expectThat(reply.status === status, `expected ${status}, got ${reply.status}${problemDetail(reply)}`);
    expectThat(reply.contentType.startsWith(PROBLEM_CONTENT_TYPE), `expected ${PROBLEM_CONTENT_TYPE}, got "${reply.contentType}"`);
    expectThat(reply.body?.status === status && typeof reply.body?.title === 'string', 'the body is not a problem document with this status');
    if (field) expectThat(JSON.stringify(reply.body).includes(field), `the problem does not name the field "${field}"`);
    return `problem: ${reply.body.title}`;
  };

  if (options.docs ?? true) {
    await check('GET /swagger/index.html (Swagger UI)', () =>
      expectReply(
        () => call('GET', PATHS.swaggerUi, undefined, {}),
        (reply) => {
          expectThat(reply.status === 200, `expected 200, got ${reply.status}`);
          expectThat(reply.contentType.startsWith('text/html'), `expected text/html, got "${reply.contentType}"`);
          return 'HTML served';
        },
      ),
    );
  }

  await check('guide 1: detect-faces (maxFaceCount 10)', () =>
    expectReply(
      () => call('POST', PATHS.detectFaces, JSON.stringify({ image: { bytes: imageBase64 }, maxFaceCount: 10 })),
      (reply) => {
        expectThat(reply.status === 200, `expected 200, got ${reply.status}${problemDetail(reply)}`);
        const faces = reply.body?.faces;
        expectThat(Array.isArray(faces) && faces.length > 0, 'expected at least one face in "faces"');
        for (const face of faces) {
          expectThat(typeof face.confidence === 'number' && face.confidence >= 0 && face.confidence <= 1, 'faces[].confidence must be a number in [0, 1]');
          const box = face.boundingBox ?? {};
          expectThat(['x', 'y', 'width', 'height'].every((k) => Number.isInteger(box[k])), 'faces[].boundingBox must have integer x, y, width, height');
        }
        expectThat(Number.isInteger(reply.body.unprocessedFaceCount), 'unprocessedFaceCount must be an integer');
        return `${faces.length} face(s)`;
      },
    ),
  );

  await check('guide 2: get-face-embeddings (maxFaceCount 1)', () =>
    expectReply(
      () => call('POST', PATHS.getFaceEmbeddings, JSON.stringify({ image: { bytes: imageBase64 }, maxFaceCount: 1 })),
      (reply) => {
        expectThat(reply.status === 200, `expected 200, got ${reply.status}${problemDetail(reply)}`);
        const faces = reply.body?.faces;
        expectThat(Array.isArray(faces) && faces.length === 1, `expected exactly 1 face with maxFaceCount 1, got ${Array.isArray(faces) ? faces.length : 'none'}`);
        const vector = faces[0].embedding;
        expectThat(Array.isArray(vector) && vector.length > 0 && vector.every((n: unknown) => typeof n === 'number' && Number.isFinite(n)), 'faces[0].embedding must be a non-empty array of numbers');
        expectThat(typeof faces[0].face?.confidence === 'number', 'faces[0].face.confidence must be a number');
        embedding = vector;
        return `embedding of ${vector.length} numbers`;
      },
    ),
  );

  await check('guide 3: compare-face-embeddings (a face with itself)', async () => {
    expectThat(embedding, 'skipped: no embedding from the previous call');
    return expectReply(
      () => call('POST', PATHS.compareFaceEmbeddings, JSON.stringify({ embedding1: embedding, embedding2: embedding })),
      (reply) => {
        expectThat(reply.status === 200, `expected 200, got ${reply.status}${problemDetail(reply)}`);
        const similarity = reply.body?.similarity;
        expectThat(Number.isInteger(similarity) && similarity >= -1 && similarity <= 100, 'similarity must be an integer in [-1, 100]');
        // The guide: reject matches below 70; a face compared with itself must pass.
        expectThat(similarity >= 70, `a face with itself scored ${similarity}, below the guide's threshold 70`);
        return `similarity ${similarity}`;
      },
    );
  });

  await check('extension: compare-face-embeddings-batch (equals the single compares)', async () => {
    expectThat(embedding, 'skipped: no embedding from the previous call');
    const probe = embedding;
    // The face itself, a reordered copy, its opposite and a half-perturbed copy: the score range's top, middle and bottom.
    const candidates = [probe, [...probe].reverse(), probe.map((x) => -x), probe.map((x, i) => (i % 2 ? x : -x / 2))];
    const singles: number[] = [];
    for (const candidate of candidates) {
      const single = await call('POST', PATHS.compareFaceEmbeddings, JSON.stringify({ embedding1: probe, embedding2: candidate }));
      expectThat(single.status === 200 && Number.isInteger(single.body?.similarity), `the single compare answered ${single.status}${problemDetail(single)}`);
      singles.push(single.body.similarity);
    }
    return expectReply(
      () => call('POST', PATHS.compareFaceEmbeddingsBatch, JSON.stringify({ embedding: probe, embeddings: candidates })),
      (reply) => {
        expectThat(reply.status === 200, `expected 200, got ${reply.status}${problemDetail(reply)}`);
        const similarities = reply.body?.similarities;
        expectThat(Array.isArray(similarities) && similarities.length === candidates.length, `expected ${candidates.length} similarities`);
        expectThat(similarities.every((s: unknown, i: number) => s === singles[i]), `batch answered [${similarities.join(', ')}], the single compares [${singles.join(', ')}]`);
        return `similarities [${similarities.join(', ')}] = the single compares`;
      },
    );
  });
  await check('extension: verify-faces (the same photo twice)', () =>
    expectReply(
      () => call('POST', PATHS.verifyFaces, JSON.stringify({ image1: { bytes: imageBase64 }, image2: { bytes: imageBase64 } })),
      (reply) => {
        expectThat(reply.status === 200, `expected 200, got ${reply.status}${problemDetail(reply)}`);
        const { similarity, face1, face2 } = reply.body ?? {};
        expectThat(Number.isInteger(similarity) && similarity >= -1 && similarity <= 100, 'similarity must be an integer in [-1, 100]');
        for (const face of [face1, face2]) expectThat(typeof face?.confidence === 'number' && Number.isInteger(face?.boundingBox?.width), 'face1 and face2 must be faces with a confidence and a bounding box');
        expectThat(Number.isInteger(reply.body.unprocessedFaceCount1) && Number.isInteger(reply.body.unprocessedFaceCount2), 'unprocessedFaceCount1/2 must be integers');
        expectThat(!JSON.stringify(reply.body).includes('embedding'), 'the answer must not carry an embedding');
        expectThat(similarity >= 70, `a photo with itself scored ${similarity}, below the guide's threshold 70`);
        return `similarity ${similarity}`;
      },
    ),
  );
  await check('extension: verify-faces (image2 without a face) -> 400 naming image2', () =>
    expectReply(
      () => call('POST', PATHS.verifyFaces, JSON.stringify({ image1: { bytes: imageBase64 }, image2: { bytes: faceFreePng().toString('base64') } })),
      (reply) => {
        const note = expectProblem(reply, 400, 'image2');
        expectThat(reply.body?.errors?.[0]?.field === 'image2', `expected errors[0].field "image2", got ${JSON.stringify(reply.body?.errors?.[0]?.field)}`);
        return note;
      },
    ),
  );

  const detectBody = JSON.stringify({ image: { bytes: imageBase64 }, maxFaceCount: 1 });
  await check('error: no Authorization header -> 401', () => expectReply(() => call('POST', PATHS.detectFaces, detectBody, {}), (reply) => expectProblem(reply, 401)));
  await check('error: unknown API key -> 401', () =>
    expectReply(() => call('POST', PATHS.detectFaces, detectBody, { authorization: 'ApiKey smoke-test-invalid-key-000000000000' }), (reply) => expectProblem(reply, 401)),
  );
  await check('error: body is not JSON -> 400', () => expectReply(() => call('POST', PATHS.detectFaces, '{"image": '), (reply) => expectProblem(reply, 400)));
  await check('error: no image -> 400 naming image', () => expectReply(() => call('POST', PATHS.detectFaces, JSON.stringify({ maxFaceCount: 1 })), (reply) => expectProblem(reply, 400, 'image')));
  await check('error: maxFaceCount 11 -> 400 naming maxFaceCount', () =>
    expectReply(() => call('POST', PATHS.detectFaces, JSON.stringify({ image: { bytes: imageBase64 }, maxFaceCount: 11 })), (reply) => expectProblem(reply, 400, 'maxFaceCount')),
  );
  await check('error: image.bytes is not an image -> 400', () =>
    expectReply(() => call('POST', PATHS.getFaceEmbeddings, JSON.stringify({ image: { bytes: Buffer.from('not an image').toString('base64') } })), (reply) => expectProblem(reply, 400, 'image')),
  );
  await check('error: compare without embedding1 -> 400 naming embedding1', () =>
    expectReply(() => call('POST', PATHS.compareFaceEmbeddings, JSON.stringify({ embedding2: [0.1, 0.2] })), (reply) => expectProblem(reply, 400, 'embedding1')),
  );
  await check('error: batch candidate of another length -> 400 naming embeddings[1]', () =>
    expectReply(() => call('POST', PATHS.compareFaceEmbeddingsBatch, JSON.stringify({ embedding: [0.1, 0.2], embeddings: [[0.2, 0.1], [0.3]] })), (reply) => expectProblem(reply, 400, 'embeddings[1]')),
  );
  await check('error: unknown path -> 404', () => expectReply(() => call('POST', 'v1/face-verification/no-such-call', detectBody), (reply) => expectProblem(reply, 404)));

  return { passed: results.every((r) => r.passed), results };
}

/** One report line: PASS/FAIL, status, latency, name, note. */
export function formatResult(result: SmokeResult): string {
  const status = result.status === 0 ? '---' : String(result.status);
  return `${result.passed ? 'PASS' : 'FAIL'}  ${status}  ${result.latencyMs.toFixed(0).padStart(6)} ms  ${result.name}${result.note ? `: ${result.note}` : ''}`;
}

/** `npm run smoke -- --help`. */
export const SMOKE_USAGE = `usage: npm run smoke -- --url <base URL> --api-key <key> [--image <file>] [--no-docs] [--timeout-ms <ms>]

Runs the vendor guide's three calls, the main error cases and the two extensions
(verify-faces; compare-face-embeddings-batch, which must equal the single compares)
against <base URL> (the laptop gateway or a deployed stage) and prints PASS/FAIL,
status and latency per call. Exit code 0 when all pass, 1 when one fails, 2 on a usage error.

  --url <base URL>     e.g. http://127.0.0.1:8080 or the Api stack's ApiUrl output
  --api-key <key>      sent as "Authorization: ApiKey <key>" (or set SMOKE_API_KEY: keeps it out of shell history)
  --image <file>       JPEG/PNG with at least one face (default: face-api's demo/sample1.jpg)
  --no-docs            skip GET /swagger/index.html (api.docs private or off)
  --timeout-ms <ms>    per-request timeout (default 60000)
  -h, --help           this text`;

async function main(): Promise<void> {
  const { values } = cliOrExit(process.argv.slice(2), {
    usage: SMOKE_USAGE,
    options: {
      url: { type: 'string' },
      'api-key': { type: 'string' },
      image: { type: 'string' },
      'no-docs': { type: 'boolean', default: false },
      'timeout-ms': { type: 'string' },
    },
  });
  const url = values.url as string | undefined;
  const apiKey = (values['api-key'] as string | undefined) ?? process.env.SMOKE_API_KEY;
  if (!url || !apiKey) {
    console.error(`${!url ? '--url' : '--api-key (or SMOKE_API_KEY)'} is required\n${SMOKE_USAGE}`);
    process.exit(2);
  }
  console.log(`smoke test of ${url}`);
  const report = await runSmoke({
    url,
    apiKey,
    imagePath: values.image as string | undefined,
    docs: !values['no-docs'],
    timeoutMs: values['timeout-ms'] ? Number(values['timeout-ms']) : undefined,
    log: (line) => console.log(line),
  });
  const failed = report.results.filter((r) => !r.passed).length;
  console.log(`${report.results.length - failed}/${report.results.length} passed`);
  process.exit(report.passed ? 0 : 1);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  main().catch((error: unknown) => {
    console.error(`smoke failed: ${(error as Error).message}`);
    process.exit(2);
  });
}
