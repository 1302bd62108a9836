/**
 * One deadline for the whole request (issue 9, finding 5). API Gateway waits
 * at most its integration timeout for the proxy (29 s by default: "Amazon API
 * Gateway quotas", REST API "Integration timeout"); after that the client gets
 * API Gateway's own 504 with no problem body. The image download and the
 * backend call therefore draw from one budget that ends a margin before the
 * earlier of that timeout and the function's own timeout (the Lambda
 * context's `getRemainingTimeInMillis()`: "Using the Lambda context object to
 * retrieve Node.js function information"), so the proxy always answers its
 * own 504 problem body first.
 */
import { LIMITS } from './limits.js';
import { ApiError } from './problem.js';

/** What the deadline reads of the Lambda context (the local gateway passes the same shape). */
export interface RemainingTime {
  /** Milliseconds left before the invocation times out. */
  getRemainingTimeInMillis(): number;
}

/** Inputs of {@link startRequestDeadline}. */
export interface RequestDeadlineOptions {
  /**
   * API Gateway's integration timeout for this route.
   * @default LIMITS.apiGatewayIntegrationTimeoutMs (29 000)
   */
  readonly integrationTimeoutMs?: number;
  /** The Lambda context (or the local gateway's imitation). @default the integration timeout alone */
  readonly context?: RemainingTime;
}

/**
 * Largest answer margin: time left after the deadline for building and
 * returning the 504 and for what the budget does not see (a cold start's
 * module init runs inside API Gateway's 29 s but before the handler; the
 * bundles' init is measured by test/lib/bundle-startup.test.ts, target 50 ms).
 */
export const MAX_ANSWER_MARGIN_MS = 1000;

/** The margin kept before `limitMs`: 1 s, or 5 % of short limits (local tests use 400 ms). */
export function answerMarginMs(limitMs: number): number {
  return Math.min(MAX_ANSWER_MARGIN_MS, Math.floor(limitMs / 20));
}

/** The budget of one request. */
export interface RequestDeadline {
  /** The whole budget in ms, fixed when the request started. */
  readonly budgetMs: number;
  /** Milliseconds left, never below 0. */
  remainingMs(): number;
  /** Aborted when the budget runs out (its reason is the 504 ApiError). */
  readonly signal: AbortSignal;
  /**
   * Waits for `work` but no longer than the budget: when it runs out first,
   * throws a 504 `gateway-timeout` problem naming `step`. `work` is told through
   * {@link signal} to stop; its later outcome is ignored.
   */
  race<T>(work: Promise<T>, step: string): Promise<T>;
  /** Stops the timer (call when the answer is ready). */
  dispose(): void;
}

/** The 504 a request gets when its budget runs out during `step`. */
export function budgetExhausted(step: string, budgetMs: number): ApiError {
  return new ApiError('gateway-timeout', `The request did not finish within its ${budgetMs} ms time budget (${step}).`);
}

/**
 * Starts the budget of one request now: the smaller of the integration
 * timeout and the function's remaining time, less {@link answerMarginMs}.
 */
export function startRequestDeadline(options: RequestDeadlineOptions = {}): RequestDeadline {
  const started = Date.now();
  let limit = options.integrationTimeoutMs ?? LIMITS.apiGatewayIntegrationTimeoutMs;
  const remaining = options.context?.getRemainingTimeInMillis?.();
  if (typeof remaining === 'number' && Number.isFinite(remaining)) limit = Math.min(limit, Math.max(0, remaining));
  const budgetMs = Math.max(0, limit - answerMarginMs(limit));
  const ends = started + budgetMs;

  const controller = new AbortController();
  let step = 'before the backend was called';
  const timer = setTimeout(() => controller.abort(budgetExhausted(step, budgetMs)), budgetMs);
  // Never keeps a process (the local gateway, a test) alive on its own.
  timer.unref?.();

  return {
    budgetMs,
    signal: controller.signal,
    remainingMs: () => Math.max(0, ends - Date.now()),
    race<T>(work: Promise<T>, current: string): Promise<T> {
      step = current;
      if (controller.signal.aborted) {
        work.catch(() => undefined);
        return Promise.reject(budgetExhausted(current, budgetMs));
      }
      return new Promise<T>((resolve, reject) => {
        const onAbort = () => reject(budgetExhausted(current, budgetMs));
        controller.signal.addEventListener('abort', onAbort, { once: true });
        // A step whose own timeout was cut to what was left (the backend's) times out at the same moment as
        // the budget; whichever timer fires first, the client is told it was the request's budget.
        const onError = (error: unknown) =>
          reject(error instanceof ApiError && error.kind === 'gateway-timeout' && Date.now() >= ends ? budgetExhausted(current, budgetMs) : error);
        work.then(resolve, onError).finally(() => controller.signal.removeEventListener('abort', onAbort));
      });
    },
    dispose: () => clearTimeout(timer),
  };
}
