/**
 * The one HTTP client for the face verification backend (the vendor container
 * behind the internal ALB, or the embedded engine locally). Keep-alive pooled
 * connections (node:http, so the Lambda bundles stay small); a deadline below
 * API Gateway's 29 s; every failure mapped to a 502/503/504 problem, client
 * errors the backend reports relayed as 4xx.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { http, https } from './node-http.js';
import type { z } from 'zod';
import { LIMITS } from './limits.js';
import { ApiError, isProblem } from './problem.js';

export interface BackendClientConfig {
  /** Base URL, e.g. `http://internal-alb.example:80` or `http://127.0.0.1:8081`. */
  readonly baseUrl: string;
  /** Whole-call deadline. @default 25000 (API Gateway's integration timeout is 29 s) */
  readonly timeoutMs?: number;
  /** TCP connect timeout. @default 3000 */
  readonly connectTimeoutMs?: number;
  /** Largest response accepted. @default 8 MiB */
  readonly maxResponseBytes?: number;
}

/** Per-call options of {@link BackendClient.postJson}. */
export interface PostOptions {
  /**
   * What is left of the request's own deadline: the call gives up at the
   * smaller of this and the client's `timeoutMs`.
   * @default the client's `timeoutMs`
   */
  readonly timeoutMs?: number;
}

export interface BackendClient {
  /** POSTs a JSON body and returns the backend's validated 200 answer. */
  postJson<S extends z.ZodType>(path: string, body: string, responseSchema: S, requestId: string, options?: PostOptions): Promise<z.output<S>>;
  /** GETs a path; true when the backend answers 2xx/3xx within the timeout. */
  probe(path: string, timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** undefined when the body exceeded the cap. */
  readonly body: Buffer | undefined;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'CONNECT_TIMEOUT']);

function mapTransportError(error: unknown, timeoutMs: number): ApiError {
  const err = error as { name?: string; code?: string };
  if (err.code === 'DEADLINE') return new ApiError('gateway-timeout', `The backend did not answer within ${timeoutMs} ms.`, { cause: error });
  if (err.code && UNREACHABLE.has(err.code)) {
    return new ApiError('service-unavailable', 'The backend is not reachable; retry later.', { headers: { 'retry-after': '1' }, cause: error });
  }
  return new ApiError('bad-gateway', 'The connection to the backend failed before a complete answer arrived.', { cause: error });
}

export function createBackendClient(config: BackendClientConfig): BackendClient {
  const timeoutMs = config.timeoutMs ?? LIMITS.defaultBackendTimeoutMs;
  const connectTimeoutMs = config.connectTimeoutMs ?? 3000;
  const maxResponseBytes = config.maxResponseBytes ?? 8 * 1024 * 1024;
  const base = new URL(config.baseUrl.endsWith('/') ? config.baseUrl : `${config.baseUrl}/`);
  const transport = base.protocol === 'https:' ? https : http;
  // Idle sockets are closed after 4 s, before typical server keep-alive timeouts (5 s) close them under us.
  const agent = new transport.Agent({ keepAlive: true, maxSockets: 64, timeout: 4_000 });

  function send(method: 'GET' | 'POST', path: string, payload: Buffer | undefined, headers: Record<string, string>, deadlineMs: number): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        req.destroy();
        reject(error);
      };
      const req = transport.request(new URL(path.replace(/^\//, ''), base), {
        method,
        agent,
        headers: { ...headers, ...(payload ? { 'content-length': String(payload.length) } : {}) },
      });
      const deadline = setTimeout(() => fail(Object.assign(new Error('deadline'), { code: 'DEADLINE' })), deadlineMs);
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        const connectTimer = setTimeout(() => fail(Object.assign(new Error('connect timeout'), { code: 'CONNECT_TIMEOUT' })), connectTimeoutMs);
        socket.once('connect', () => clearTimeout(connectTimer));
        socket.once('close', () => clearTimeout(connectTimer));
      });
      req.on('error', (error) => fail(Object.assign(error, { reusedSocket: req.reusedSocket })));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxResponseBytes) {
            settled = true;
            clearTimeout(deadline);
            req.destroy();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: undefined });
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (error) => fail(error));
        res.on('aborted', () => fail(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
      });
      req.end(payload);
    });
  }

  async function sendWithRetry(method: 'GET' | 'POST', path: string, payload: Buffer | undefined, headers: Record<string, string>, deadlineMs: number): Promise<RawResponse> {
    const until = Date.now() + deadlineMs;
    try {
      return await send(method, path, payload, headers, deadlineMs);
    } catch (error) {
      // A pooled socket the server already closed (Lambda freezes between invocations) fails at once
      // with ECONNRESET; the request never reached the backend, so one retry on a fresh socket is safe.
      // The retry gets what is left of the same deadline, not a fresh one.
      const err = error as { code?: string; reusedSocket?: boolean };
      if (err.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) return send(method, path, payload, headers, Math.max(1, until - Date.now()));
      throw error;
    }
  }

  return {
    async postJson(path, payload, responseSchema, requestId, options) {
      const callTimeoutMs = Math.max(1, Math.min(timeoutMs, Math.floor(options?.timeoutMs ?? timeoutMs)));
      let response: RawResponse;
      try {
        response = await sendWithRetry('POST', path, Buffer.from(payload), { 'content-type': 'application/json', accept: 'application/json', 'x-request-id': requestId }, callTimeoutMs);
      } catch (error) {
        throw mapTransportError(error, callTimeoutMs);
      }
      if (response.body === undefined) throw new ApiError('bad-gateway', `The backend's answer exceeded ${maxResponseBytes} bytes.`);
      const { status } = response;
      let parsed: unknown;
      try {
        parsed = JSON.parse(response.body.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      if (status === 200) {
        const result = responseSchema.safeParse(parsed);
        if (!result.success) throw new ApiError('bad-gateway', 'The backend answered 200 with a body that does not match the API contract.');
        return result.data;
      }
      // The backend's own verdict on the client's input (e.g. an image that does not decode) is relayed.
      if (status === 400 || status === 413 || status === 415 || status === 422) {
        const detail = isProblem(parsed) && typeof parsed.detail === 'string' ? parsed.detail : `The backend refused the request (HTTP ${status}).`;
        const kind = status === 413 ? 'payload-too-large' : status === 415 ? 'unsupported-media-type' : 'image-rejected';
        throw new ApiError(kind, detail);
      }
      if (status === 429 || status === 503) {
        const retryAfter = response.headers['retry-after'];
        throw new ApiError('service-unavailable', 'The backend is overloaded; retry later.', {
          headers: { 'retry-after': typeof retryAfter === 'string' && /^\d{1,5}$/.test(retryAfter) ? retryAfter : '1' },
        });
      }
      // 401/403 mean our activation or routing is wrong, not the client's credentials.
      throw new ApiError('bad-gateway', `The backend answered HTTP ${status}.`);
    },

    async probe(path, probeTimeoutMs) {
      try {
        const response = await send('GET', path, undefined, {}, probeTimeoutMs);
        return response.status >= 200 && response.status < 400;
      } catch {
        return false;
      }
    },

    async close() {
      agent.destroy();
    },
  };
}
