/** Reading handler configuration from environment variables, with errors that name the variable. */

export type Env = Readonly<Record<string, string | undefined>>;

export function envString(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

export function requireEnv(env: Env, name: string): string {
  const value = envString(env, name);
  if (value === undefined) throw new Error(`configuration: environment variable ${name} is required`);
  return value;
}

export function envInt(env: Env, name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
  const raw = envString(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = range;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`configuration: ${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

export function envList(env: Env, name: string): string[] {
  return (envString(env, name) ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}
