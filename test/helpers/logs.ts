/** A logger that records every line, so tests can assert that nothing secret or biometric was logged. */
import type { HandlerLogger } from '../../lambda/shared/http.js';

export interface RecordingLogger extends HandlerLogger {
  readonly lines: string[];
  text(): string;
}

export function recordingLogger(): RecordingLogger {
  const lines: string[] = [];
  const record = (level: string) => (message: string, ...extra: Record<string, unknown>[]) => {
    lines.push(JSON.stringify({ level, message, ...Object.assign({}, ...extra) }));
  };
  return { lines, info: record('info'), warn: record('warn'), error: record('error'), text: () => lines.join('\n') };
}
