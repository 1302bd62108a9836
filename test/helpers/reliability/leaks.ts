/**
 * Finds secrets and biometric data in text: the exact values a pass used (keys,
 * tokens, URL tokens, embedding numbers, base64 windows of every image sent)
 * and the shapes of such values in general (JWTs, long base64 runs, numbers
 * with embedding precision).
 */

/** What a pass sent or received that must never show up in a log line or an error body. */
export interface Secrets {
  readonly apiKeys: readonly string[];
  readonly tokens: readonly string[];
  /** Other literal strings (URL tokens, canary strings inside rejected payloads). */
  readonly literals: readonly string[];
  /** Base64 of every image sent (windows of it are searched for). */
  readonly imagesBase64: readonly string[];
  /** Embedding values returned by the API. */
  readonly embeddingValues: readonly number[];
}

export interface Leak {
  readonly kind: string;
  readonly where: string;
  /** A short, redacted excerpt around the hit (never the secret itself). */
  readonly excerpt: string;
}

const WINDOW = 24;

/** Windows of `WINDOW` base64 characters spread over each image (a leak of any stretch of the image shows). */
function base64Windows(images: readonly string[]): string[] {
  const windows: string[] = [];
  for (const b64 of images) {
    const step = Math.max(WINDOW, Math.floor(b64.length / 200));
    for (let at = 0; at + WINDOW <= b64.length; at += step) windows.push(b64.slice(at, at + WINDOW));
  }
  return windows;
}

/**
 * Scans `texts` (each with a label saying where it came from). Generic shapes are
 * checked with `generic` true (log lines); error bodies are checked for exact values only,
 * since a body legitimately names fields such as "image.bytes".
 */
export function findLeaks(texts: ReadonlyArray<{ where: string; text: string; generic: boolean }>, secrets: Secrets): Leak[] {
  const leaks: Leak[] = [];
  const windows = base64Windows(secrets.imagesBase64);
  // Embedding values as JSON prints them; short ones (0, 0.5) would match anything.
  const numbers = [...new Set(secrets.embeddingValues.map((v) => JSON.stringify(v)).filter((s) => s.replace(/[^0-9]/g, '').length >= 6))];
  const exact: Array<[string, readonly string[]]> = [
    ['api key', secrets.apiKeys],
    ['token', secrets.tokens],
    ['literal', secrets.literals],
    ['image base64', windows],
    ['embedding value', numbers],
  ];
  for (const { where, text, generic } of texts) {
    for (const [kind, values] of exact) {
      for (const value of values) {
        const at = text.indexOf(value);
        if (at >= 0) leaks.push({ kind, where, excerpt: redact(text, at, value.length) });
      }
    }
    if (!generic) continue;
    for (const [kind, pattern] of [
      ['jwt-shaped', /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/g],
      ['long base64 run', /[A-Za-z0-9+/]{40,}={0,2}/g],
      ['embedding-precision number', /-?\d\.\d{6,}/g],
    ] as const) {
      for (const match of text.matchAll(pattern)) leaks.push({ kind, where, excerpt: redact(text, match.index!, match[0].length) });
    }
  }
  return leaks;
}

function redact(text: string, at: number, length: number): string {
  return `${text.slice(Math.max(0, at - 40), at)}[${length} chars]${text.slice(at + length, at + length + 40)}`;
}
