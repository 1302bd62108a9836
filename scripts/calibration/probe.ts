/**
 * Asks a backend's compare endpoint for answers: keep-alive, bounded concurrency,
 * 429 `Retry-After` respected, transient failures (502/503/504, resets) retried.
 */
import { Agent, request } from 'undici';
import { PATHS } from '../../lambda/shared/contract.js';
import type { ProbeAnswer } from '../../lambda/shared/score-check.js';

export type { ProbeAnswer } from '../../lambda/shared/score-check.js';

export interface CompareProbe {
  compare(embedding1: unknown, embedding2: unknown): Promise<ProbeAnswer>;
  /** Sends a body as given (for inputs JSON.stringify cannot write, such as 1e999). */
  compareRaw(body: string): Promise<ProbeAnswer>;
  /** Requests sent, retries included. */
  readonly requests: () => number;
  close(): Promise<void>;
}

export interface ProbeOptions {
  /** Base URL of the API, e.g. `http://127.0.0.1:8080` or `https://abc.execute-api.eu-west-1.amazonaws.com/prod`. */
  readonly endpoint: string;
  /** Sent as `Authorization: ApiKey <key>`; omit for a bare engine or container. */
  readonly apiKey?: string;
  readonly concurrency?: number;
  readonly maxRetries?: number;
  readonly timeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const TRANSIENT = new Set([500, 502, 503, 504]);

export function createCompareProbe(options: ProbeOptions): CompareProbe {
  const concurrency = options.concurrency ?? 8;
  const maxRetries = options.maxRetries ?? 8;
  const sleep = options.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  const agent = new Agent({ connections: concurrency, keepAliveTimeout: 30_000 });
  const url = `${options.endpoint.replace(/\/$/, '')}${PATHS.compareFaceEmbeddings}`;
  let count = 0;
  let active = 0;
  const waiting: Array<() => void> = [];

  async function slot<T>(run: () => Promise<T>): Promise<T> {
    if (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await run();
    } finally {
      active--;
      waiting.shift()?.();
    }
  }

  async function once(body: string): Promise<ProbeAnswer | 'retry' | 'rate-limited'> {
    count++;
    let response;
    try {
      response = await request(url, {
        method: 'POST',
        dispatcher: agent,
        body,
        headers: { 'content-type': 'application/json', ...(options.apiKey ? { authorization: `ApiKey ${options.apiKey}` } : {}) },
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
    } catch {
      return 'retry';
    }
    const text = await response.body.text().catch(() => '');
    if (response.statusCode === 429) {
      const retryAfter = Number(response.headers['retry-after']);
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 1000);
      return 'rate-limited';
    }
    if (TRANSIENT.has(response.statusCode)) return 'retry';
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = undefined;
    }
    if (response.statusCode === 200) {
      const similarity = parsed?.similarity;
      if (typeof similarity !== 'number' || !Number.isInteger(similarity)) throw new Error(`the endpoint answered 200 without an integer similarity`);
      return { status: 200, similarity };
    }
    return { status: response.statusCode, problem: typeof parsed?.type === 'string' ? parsed.type : `HTTP ${response.statusCode}` };
  }

  return {
    compare(embedding1, embedding2) {
      return this.compareRaw(JSON.stringify({ embedding1, embedding2 }));
    },
    compareRaw(body) {
      return slot(async () => {
        for (let attempt = 0; ; ) {
          const answer = await once(body);
          // Being throttled is not a failure: wait as told (done in once) and ask again.
          if (answer === 'rate-limited') continue;
          if (answer !== 'retry') return answer;
          attempt++;
          if (attempt >= maxRetries) throw new Error(`the endpoint kept failing after ${maxRetries} retries`);
          await sleep(Math.min(8000, 100 * 2 ** attempt));
        }
      });
    },
    requests: () => count,
    close: () => agent.close(),
  };
}
