/**
 * A one-at-a-time job queue with a bounded waiting line. tfjs runs one
 * inference at a time per process (the WASM backend has no threads in Node),
 * so jobs are serialised; a full line is refused at once with a 503 instead of
 * growing a backlog that would only time out later.
 */
import { ApiError } from '../../lambda/shared/problem.js';

export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private waitingCount = 0;
  private runningCount = 0;

  /** @param maxWaiting jobs allowed to wait behind the running one before new ones are refused */
  constructor(private readonly maxWaiting: number) {}

  /** Jobs queued but not yet started. */
  get waiting(): number {
    return this.waitingCount;
  }

  /** 1 while a job runs, else 0. */
  get running(): number {
    return this.runningCount;
  }

  /**
   * Runs `job` after every job queued before it has settled.
   * @throws ApiError `service-unavailable` (503, `Retry-After: 1`) when `maxWaiting` jobs already wait
   */
  run<T>(job: () => Promise<T>): Promise<T> {
    if (this.waitingCount >= this.maxWaiting) {
      return Promise.reject(
        new ApiError('service-unavailable', `The face engine is busy (${this.maxWaiting} requests already waiting); retry shortly.`, {
          headers: { 'Retry-After': '1' },
        }),
      );
    }
    this.waitingCount++;
    const result = this.tail.then(async () => {
      this.waitingCount--;
      this.runningCount++;
      try {
        return await job();
      } finally {
        this.runningCount--;
      }
    });
    // The chain must go on whether or not this job failed.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
