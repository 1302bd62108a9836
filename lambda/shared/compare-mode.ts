/**
 * The runtime switch between table mode and forwarding, as a small JSON value
 * (`{"mode":"forward","reason":"...","since":"..."}`). In AWS it lives in a Secrets
 * Manager secret (see lib/constructs/compare-check.ts for why not SSM); the check
 * Lambda and the follow rollout write it, the compare function reads it with a
 * short cache, and `npm run compare-mode` is the operator's way back.
 */

/** The flag's value. */
export interface CompareModeFlag {
  /** `table`: answer from the score table; `forward`: send every compare to the container. */
  readonly mode: 'table' | 'forward';
  /** Why the mode was set (a check's verdict, a rollout, an operator). Never holds an embedding or a key. */
  readonly reason?: string;
  /** ISO time it was set. */
  readonly since?: string;
  /** Who set it: `compare-check`, `image-rollout`, `operator`. */
  readonly by?: string;
}

/** What the flag holds before anything has written to it. */
export const INITIAL_COMPARE_MODE_FLAG: CompareModeFlag = { mode: 'table', by: 'deploy' };

/**
 * Parses a stored flag. Anything that is not a valid flag means forwarding: the container
 * is always right, the table only while it provably agrees.
 */
export function parseCompareModeFlag(raw: string | undefined): CompareModeFlag {
  if (raw === undefined) return { mode: 'forward', reason: 'the compare-mode flag is empty' };
  try {
    const value = JSON.parse(raw) as Partial<CompareModeFlag>;
    if (value && (value.mode === 'table' || value.mode === 'forward')) {
      return {
        mode: value.mode,
        ...(typeof value.reason === 'string' ? { reason: value.reason.slice(0, 500) } : {}),
        ...(typeof value.since === 'string' ? { since: value.since } : {}),
        ...(typeof value.by === 'string' ? { by: value.by } : {}),
      };
    }
  } catch {
    // fall through
  }
  return { mode: 'forward', reason: 'the compare-mode flag is not valid JSON with "mode": "table" | "forward"' };
}

/** A flag value to store. */
export function compareModeFlag(mode: CompareModeFlag['mode'], by: string, reason: string, now = new Date()): string {
  return JSON.stringify({ mode, by, reason, since: now.toISOString() } satisfies CompareModeFlag);
}

/**
 * "Forward now?" for the compare handler, from a cached flag reader. When the flag cannot be
 * read, the last value read is kept; with none yet, compares are forwarded (fail towards the container).
 */
export function forwardingFromFlag(
  read: () => Promise<string | undefined>,
  onError: (error: unknown) => void,
  onChange: (flag: CompareModeFlag) => void = () => undefined,
): () => Promise<boolean> {
  let last: CompareModeFlag | undefined;
  return async () => {
    try {
      const flag = parseCompareModeFlag(await read());
      if (flag.mode !== last?.mode) onChange(flag);
      last = flag;
    } catch (error) {
      onError(error);
      if (!last) return true;
    }
    return last!.mode === 'forward';
  };
}
