/**
 * HTTP clients for the reliability suites: a keep-alive pool that sends many
 * bodies fast and times each answer, a bounded-concurrency map, and a raw
 * socket sender for request lines that no well-behaved client would write.
 */
import net from 'node:net';
import { Pool } from 'undici';

/** One answer as the suites inspect it. */
export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** Milliseconds from sending to the last byte. */
  readonly ms: number;
  /** Set when no answer arrived (transport error or the client's deadline). */
  readonly failure?: string;
}

export interface PostOptions {
  /** `null` sends no Content-Type header at all. @default 'application/json' */
  readonly contentType?: string | null;
  readonly authorization?: string | null;
  readonly headers?: Record<string, string>;
}

export interface Client {
  post(path: string, body: string | Buffer, options?: PostOptions): Promise<Answer>;
  get(path: string): Promise<Answer>;
  close(): Promise<void>;
}

/**
 * A keep-alive client for one origin.
 * @param hangMs an answer slower than this is a failure ("hang"), not a wait
 */
export function createClient(origin: string, options: { connections?: number; hangMs?: number; authorization?: string } = {}): Client {
  const hangMs = options.hangMs ?? 10_000;
  const pool = new Pool(origin, { connections: options.connections ?? 16, keepAliveTimeout: 10_000, headersTimeout: hangMs, bodyTimeout: hangMs });

  async function send(method: 'GET' | 'POST', path: string, body: string | Buffer | undefined, opts: PostOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...opts.headers };
    const contentType = opts.contentType === undefined ? 'application/json' : opts.contentType;
    if (method === 'POST' && contentType !== null) headers['content-type'] = contentType;
    const authorization = opts.authorization === undefined ? options.authorization : opts.authorization;
    if (authorization) headers.authorization = authorization;
    const started = performance.now();
    try {
      const response = await pool.request({ method, path, headers, body, signal: AbortSignal.timeout(hangMs) });
      const text = await response.body.text();
      return { status: response.statusCode, headers: response.headers, text, ms: performance.now() - started };
    } catch (error) {
      const e = error as { code?: string; name?: string };
      return { status: 0, headers: {}, text: '', ms: performance.now() - started, failure: e.code ?? e.name ?? 'error' };
    }
  }

  return {
    post: (path, body, opts) => send('POST', path, body, opts),
    get: (path) => send('GET', path, undefined),
    close: () => pool.close(),
  };
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Writes `request` verbatim on a fresh connection and returns whatever comes back
 * before the server closes it or `waitMs` passes (raw HTTP, for malformed request lines).
 * `halfClose` ends the sending side after the write (a client that gives up mid-body
 * but still reads); interim `100 Continue` answers are skipped.
 */
export function rawRequest(
  port: number,
  request: string | Buffer,
  waitMs = 2000,
  options: { host?: string; halfClose?: boolean } = {},
): Promise<{ text: string; status: number; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: options.host ?? '127.0.0.1', allowHalfOpen: true }, () => {
      socket.write(request);
      if (options.halfClose) socket.end();
    });
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1').replace(/^(HTTP\/1\.1 100 Continue\r\n\r\n)+/, '');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ text, status, closed });
    };
    const timer = setTimeout(() => done(false), waitMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // One complete answer is enough: stop at the end of a Content-Length body.
      const text = Buffer.concat(chunks).toString('latin1').replace(/^(HTTP\/1\.1 100 Continue\r\n\r\n)+/, '');
      const head = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(text)?.[1];
      if (head >= 0 && length !== undefined && Buffer.byteLength(text, 'latin1') >= head + 4 + Number(length)) done(false);
    });
    socket.on('end', () => done(true));
    socket.on('close', () => done(true));
    socket.on('error', () => done(true));
  });
}
