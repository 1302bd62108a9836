import { expect } from 'vitest';
import { ApiError } from '../../lambda/shared/problem.js';

/** Awaits a promise that must reject with an ApiError, and returns that error. */
export async function failure(promise: Promise<unknown>): Promise<ApiError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a failure, the call succeeded');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}
