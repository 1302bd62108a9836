/**
 * What every answer of the API must look like, whatever was sent: a 200 that
 * matches the contract, or a 4xx RFC 9457 problem whose status, type and request
 * id agree with the response; never a 5xx, never a hang, never an echo of the input.
 */
import { appendFileSync } from 'node:fs';
import type { z } from 'zod';
import { problemType } from '../../../lambda/shared/problem.js';
import type { Answer } from './client.js';
import type { Expected } from './hostile.js';

/** Longest problem body accepted: a body that echoes a client's input would be longer. */
export const MAX_PROBLEM_BYTES = 4096;

/**
 * Lists what is wrong with one answer (empty when it is fine).
 * @param expected the oracle's prediction, when there is one
 * @param okSchema the contract schema a 200 body must match
 */
export function answerProblems(answer: Answer, options: { expected?: Expected; okSchema?: z.ZodType; allow5xx?: boolean } = {}): string[] {
  const problems: string[] = [];
  if (answer.failure) return [`no answer (${answer.failure}) after ${Math.round(answer.ms)} ms`];
  const { status } = answer;
  if (status >= 500 && !options.allow5xx) problems.push(`status ${status}`);
  const contentType = String(answer.headers['content-type'] ?? '');
  let body: Record<string, unknown> | undefined;
  try {
    body = JSON.parse(answer.text) as Record<string, unknown>;
  } catch {
    problems.push(`body is not JSON: ${JSON.stringify(answer.text.slice(0, 80))}`);
  }
  if (status === 200) {
    if (!contentType.startsWith('application/json')) problems.push(`200 with content-type ${contentType}`);
    if (body && options.okSchema && !options.okSchema.safeParse(body).success) problems.push('200 body does not match the contract');
  } else {
    if (contentType !== 'application/problem+json') problems.push(`${status} with content-type ${contentType}`);
    if (Buffer.byteLength(answer.text) > MAX_PROBLEM_BYTES) problems.push(`problem body of ${Buffer.byteLength(answer.text)} bytes`);
    if (body) {
      if (body.status !== status) problems.push(`problem status ${String(body.status)} != ${status}`);
      if (typeof body.requestId !== 'string' || body.requestId !== answer.headers['x-request-id']) problems.push('problem requestId does not match x-request-id');
      if (typeof body.type !== 'string' || !body.type.startsWith('urn:face-verification:problem:')) problems.push(`problem type ${String(body.type)}`);
      if (typeof body.title !== 'string' || typeof body.detail !== 'string') problems.push('problem without title/detail');
    }
  }
  const { expected } = options;
  if (expected) {
    if (status !== expected.status) problems.push(`status ${status}, expected ${expected.status}${body?.detail ? ` (${String(body.detail).slice(0, 120)})` : ''}`);
    else if (expected.kinds && body && !expected.kinds.some((kind) => body.type === problemType(kind))) {
      problems.push(`problem type ${String(body.type)}, expected ${expected.kinds.join(' | ')}`);
    }
  }
  return problems;
}

/** Latency percentile (nearest rank) of a list of milliseconds. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Appends one JSON line of figures to the file named by RELIABILITY_FIGURES (if set),
 * so a run can be turned into docs/reliability.md; a no-op otherwise.
 */
export function recordFigures(suite: string, figures: Record<string, unknown>): void {
  const file = process.env.RELIABILITY_FIGURES;
  if (file) appendFileSync(file, `${JSON.stringify({ suite, at: new Date().toISOString(), ...figures })}\n`);
}
