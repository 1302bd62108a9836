/**
 * The one HTTP client for the face verification backend (the vendor container
 * behind the internal ALB, or the embedded engine locally). Keep-alive pooled
 * connections; a deadline below API Gateway's 29 s; every failure mapped to a
 * 502/503/504 problem, client errors the backend reports relayed as 4xx.
 */
import { Agent, errors as undiciErrors, request } from 'undici';
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

export interface BackendClient {
  /** POSTs a JSON body and returns the backend's validated 200 answer. */
  postJson<S extends z.ZodType>(path: string, body: string, responseSchema: S, requestId: string): Promise<z.output<S>>;
  /** GETs a path; true when the backend answers 2xx/3xx within the timeout. */
  probe(path: string, timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

const CONNECTION_REFUSED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function mapTransportError(error: unknown, timeoutMs: number): ApiError {
  const err = error as { name?: string; code?: string; cause?: { code?: string } };
  const code = err.code ?? err.cause?.code;
  if (err.name === 'TimeoutError' || err.name === 'AbortError' || error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
    return new ApiError('gateway-timeout', `The backend did not answer within ${timeoutMs} ms.`, { cause: error });
  }
  if (code && CONNECTION_REFUSED.has(code)) {
    return new ApiError('service-unavailable', 'The backend is not reachable; retry later.', { headers: { 'retry-after': '1' }, cause: error });
  }
  return new ApiError('bad-gateway', 'The connection to the backend failed before a complete answer arrived.', { cause: error });
}

export function createBackendClient(config: BackendClientConfig): BackendClient {
  const timeoutMs = config.timeoutMs ?? LIMITS.defaultBackendTimeoutMs;
  const maxResponseBytes = config.maxResponseBytes ?? 8 * 1024 * 1024;
  const base = new URL(config.baseUrl);
  const agent = new Agent({
    connect: { timeout: config.connectTimeoutMs ?? 3000 },
    keepAliveTimeout: 30_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const urlFor = (path: string) => new URL(path.replace(/^\//, ''), base.href.endsWith('/') ? base : `${base.href}/`);

  async function readCapped(body: AsyncIterable<Uint8Array> & { destroy?: (e?: Error) => void }): Promise<Buffer | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += chunk.byteLength;
      if (size > maxResponseBytes) {
        body.destroy?.();
        return undefined;
      }
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  }

  return {
    async postJson(path, payload, responseSchema, requestId) {
      let response;
      try {
        response = await request(urlFor(path), {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json', accept: 'application/json', 'x-request-id': requestId },
          body: payload,
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw mapTransportError(error, timeoutMs);
      }
      let raw: Buffer | undefined;
      try {
        raw = await readCapped(response.body);
      } catch (error) {
        throw mapTransportError(error, timeoutMs);
      }
      if (raw === undefined) throw new ApiError('bad-gateway', `The backend's answer exceeded ${maxResponseBytes} bytes.`);
      const { statusCode } = response;
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      if (statusCode === 200) {
        const result = responseSchema.safeParse(parsed);
        if (!result.success) throw new ApiError('bad-gateway', 'The backend answered 200 with a body that does not match the API contract.');
        return result.data;
      }
      // The backend's own verdict on the client's input (e.g. an image that does not decode) is relayed.
      if (statusCode === 400 || statusCode === 413 || statusCode === 415 || statusCode === 422) {
        const detail = isProblem(parsed) && typeof parsed.detail === 'string' ? parsed.detail : `The backend refused the request (HTTP ${statusCode}).`;
        const kind = statusCode === 413 ? 'payload-too-large' : statusCode === 415 ? 'unsupported-media-type' : 'image-rejected';
        throw new ApiError(kind, detail);
      }
      if (statusCode === 429 || statusCode === 503) {
        const retryAfter = response.headers['retry-after'];
        throw new ApiError('service-unavailable', 'The backend is overloaded; retry later.', {
          headers: { 'retry-after': typeof retryAfter === 'string' ? retryAfter : '1' },
        });
      }
      // 401/403 mean our activation or routing is wrong, not the client's credentials.
      throw new ApiError('bad-gateway', `The backend answered HTTP ${statusCode}.`);
    },

    async probe(path, probeTimeoutMs) {
      try {
        const response = await request(urlFor(path), { method: 'GET', dispatcher: agent, signal: AbortSignal.timeout(probeTimeoutMs) });
        await response.body.dump();
        return response.statusCode >= 200 && response.statusCode < 400;
      } catch {
        return false;
      }
    },

    async close() {
      await agent.close();
    },
  };
}
