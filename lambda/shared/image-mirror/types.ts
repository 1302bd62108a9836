/**
 * The narrow logging and metrics interfaces the mirror writes to. Powertools'
 * Logger and Metrics satisfy them; tests pass recorders.
 */

/** Structured log sink (Powertools Logger shape). Attributes never carry secrets or URLs. */
export interface MirrorLogger {
  debug(message: string, ...attributes: Array<Record<string, unknown>>): void;
  info(message: string, ...attributes: Array<Record<string, unknown>>): void;
  warn(message: string, ...attributes: Array<Record<string, unknown>>): void;
  error(message: string, ...attributes: Array<Record<string, unknown>>): void;
}

/** The metric names the mirror emits. */
export type MirrorMetricName = 'BytesCopied' | 'LayersCopied' | 'LayersSkipped' | 'MirrorFailed';

/** Metrics sink (Powertools Metrics shape). */
export interface MirrorMetrics {
  addMetric(name: MirrorMetricName, unit: 'Bytes' | 'Count', value: number): void;
}

/** A logger that drops everything (scripts, benchmarks). */
export const silentLogger: MirrorLogger = { debug() {}, info() {}, warn() {}, error() {} };
