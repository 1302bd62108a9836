/**
 * `npm start` configuration from environment variables, validated once with zod;
 * a bad value stops the start with a message naming the variable.
 */
import { z } from 'zod';
import { DEFAULT_MAX_TOKEN_LIFETIME_SECONDS } from '../lambda/shared/authorizer.js';
import { isLoopbackHost } from '../lambda/shared/image-fetch/address-policy.js';
import { originProblem } from '../lambda/shared/cors.js';
import { DEFAULT_BATCH_CONCURRENCY, MAX_BATCH_CONCURRENCY } from '../lambda/shared/compare-batch.js';
import { LIMITS } from '../lambda/shared/limits.js';

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value?.trim() ? value.trim() : undefined));
const list = z
  .string()
  .optional()
  .transform((value) => (value ?? '').split(',').map((item) => item.trim()).filter(Boolean));
const int = (fallback: number | undefined, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === '') return fallback;
      const number = Number(value);
      if (!Number.isInteger(number) || number < min || number > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}` });
        return z.NEVER;
      }
      return number;
    });
const positive = (fallback: number | undefined) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === '') return fallback;
      const number = Number(value);
      if (!Number.isFinite(number) || number <= 0) {
        ctx.addIssue({ code: 'custom', message: 'must be a positive number' });
        return z.NEVER;
      }
      return number;
    });

export const GatewayEnvSchema = z
  .object({
    PORT: int(8080, 0, 65535),
    HOST: optionalString.transform((value) => value ?? '127.0.0.1'),
    API_KEYS: list,
    BACKEND_URL: optionalString.refine((value) => value === undefined || /^https?:\/\/.+/.test(value), {
      message: 'must be an http(s) URL such as http://127.0.0.1:8081',
    }),
    BACKEND_TIMEOUT_MS: int(LIMITS.defaultBackendTimeoutMs, 100, LIMITS.apiGatewayIntegrationTimeoutMs - 500),
    /** Worker threads of the embedded engine (without BACKEND_URL); unset: one per core (os.availableParallelism()). */
    ENGINE_WORKERS: int(undefined, 1, 64),
    HEALTH_PATH: optionalString.transform((value) => value ?? '/swagger/index.html'),
    JWT_ISSUER: optionalString,
    JWT_AUDIENCE: list,
    JWT_JWKS_URI: optionalString,
    JWT_USAGE_KEY: optionalString,
    /** The claim naming a Bearer client (each value gets its own RATE_LIMIT_RPS bucket); `sub` when absent. */
    JWT_CLIENT_CLAIM: optionalString,
    /** Longest accepted token lifetime (exp - iat) in seconds. */
    JWT_MAX_TOKEN_LIFETIME_SECONDS: int(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, 60, 31 * 86_400),
    COMPARE_MODE: z.enum(['table', 'forward']).optional(),
    SCORE_TABLE: optionalString,
    /** Seconds between live checks of the table against BACKEND_URL (COMPARE_MODE=table with a BACKEND_URL). */
    COMPARE_CHECK_INTERVAL_S: int(300, 1, 86_400),
    /** compare-face-embeddings-batch in forward mode: backend calls in flight per batch (the Lambda's COMPARE_BATCH_CONCURRENCY). */
    COMPARE_BATCH_CONCURRENCY: int(DEFAULT_BATCH_CONCURRENCY, 1, MAX_BATCH_CONCURRENCY),
    IMAGE_FETCH_ALLOW_CIDRS: optionalString,
    IMAGE_FETCH_MAX_BYTES: optionalString,
    IMAGE_FETCH_TIMEOUT_MS: optionalString,
    RATE_LIMIT_RPS: positive(undefined),
    RATE_LIMIT_BURST: int(undefined, 1, 1_000_000),
    INTEGRATION_TIMEOUT_MS: int(LIMITS.apiGatewayIntegrationTimeoutMs, 100, 300_000),
    /** Browser origins allowed to call the gateway (api.cors.allowOrigins in AWS); none by default. */
    CORS_ALLOW_ORIGINS: list.superRefine((origins, ctx) => {
      for (const origin of origins) {
        const reason = originProblem(origin);
        if (reason) ctx.addIssue({ code: 'custom', message: `"${origin}" ${reason}` });
      }
      if (origins.includes('*') && origins.length > 1) ctx.addIssue({ code: 'custom', message: 'must be "*" alone or a list of origins' });
    }),
  })
  .superRefine((env, ctx) => {
    const loopback = isLoopbackHost(env.HOST);
    if (!loopback && env.API_KEYS.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['API_KEYS'], message: `must be set when HOST (${env.HOST}) is not a loopback address` });
    }
    if (env.JWT_ISSUER && env.JWT_AUDIENCE.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['JWT_AUDIENCE'], message: 'must be set when JWT_ISSUER is set' });
    }
    if (env.COMPARE_MODE === 'table' && env.BACKEND_URL && !env.SCORE_TABLE) {
      ctx.addIssue({ code: 'custom', path: ['SCORE_TABLE'], message: 'must be set for COMPARE_MODE=table with a BACKEND_URL (the embedded table does not describe another backend)' });
    }
  });

export type GatewayEnv = z.output<typeof GatewayEnvSchema>;

/** Parses the environment; throws one Error listing every bad variable. */
export function gatewayEnvFrom(env: NodeJS.ProcessEnv): GatewayEnv {
  const result = GatewayEnvSchema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(env)'}: ${issue.message}`);
  throw new Error(`invalid configuration:\n${lines.join('\n')}`);
}
