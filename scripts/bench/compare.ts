/**
 * Compare handler throughput in table mode vs a bare JSON.parse of the same body
 * (the floor: the handler has to parse the body at least once). 512-d pairs.
 */
import { createCompareHandler } from '../../lambda/shared/compare.js';
import { PATHS } from '../../lambda/shared/contract.js';
import type { ApiEvent } from '../../lambda/shared/http.js';
import { SCORE_TABLE_FORMAT, type ScoreTable } from '../../lambda/shared/score-table.js';
import { fmt, isMain, median, table } from './stats.js';

const DIMENSION = 512;
const quiet = { info() {}, warn() {}, error() {} };

function randomUnit(seed: number): number[] {
  let s = seed;
  const v = Array.from({ length: DIMENSION }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 30 - 1;
  });
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

export async function runCompareBench(): Promise<string> {
  const table512: ScoreTable = {
    format: SCORE_TABLE_FORMAT,
    dimension: DIMENSION,
    backend: 'bench',
    calibrated: false,
    belowAll: -1,
    zeroVector: -1,
    boundaries: Array.from({ length: 101 }, (_, score) => ({ cosine: -1 + (2 * score) / 100 + (score === 0 ? 0 : 1e-9), score })),
  };
  const handler = createCompareHandler({ mode: 'table', table: table512, logger: quiet });
  const bodies = Array.from({ length: 64 }, (_, i) => JSON.stringify({ embedding1: randomUnit(i * 2 + 1), embedding2: randomUnit(i * 2 + 2) }));
  const events: ApiEvent[] = bodies.map((body) => ({
    httpMethod: 'POST', path: PATHS.compareFaceEmbeddings, resource: PATHS.compareFaceEmbeddings,
    headers: { 'content-type': 'application/json' }, multiValueHeaders: {}, body, isBase64Encoded: false,
    queryStringParameters: null, multiValueQueryStringParameters: null, pathParameters: null, stageVariables: null,
    requestContext: { requestId: 'bench' } as ApiEvent['requestContext'],
  }));

  const ITER = 4000;
  let sink = 0;
  async function roundHandler(): Promise<number> {
    const t = performance.now();
    for (let i = 0; i < ITER; i++) sink += (await handler(events[i % events.length]!)).body.length;
    return ITER / ((performance.now() - t) / 1000);
  }
  function roundParse(): number {
    const t = performance.now();
    for (let i = 0; i < ITER; i++) sink += (JSON.parse(bodies[i % bodies.length]!) as { embedding1: number[] }).embedding1.length;
    return ITER / ((performance.now() - t) / 1000);
  }
  // Warm up both, then alternate rounds so machine noise hits both alike.
  await roundHandler();
  roundParse();
  const handlerRates: number[] = [];
  const parseRates: number[] = [];
  for (let r = 0; r < 15; r++) {
    parseRates.push(roundParse());
    handlerRates.push(await roundHandler());
  }
  const h = median(handlerRates);
  const p = median(parseRates);
  if (sink === 0) throw new Error('unreachable');
  return [
    '### Compare handler (table mode, 512-d pairs)',
    '',
    `Body: ${bodies[0]!.length} bytes of JSON. ${ITER} calls per round, 15 alternating rounds, median.`,
    '',
    table(['what', 'calls/s', 'ratio to JSON.parse'], [
      ['bare `JSON.parse` of the body (reference)', fmt(p, 0), '1.00'],
      ['compare handler (parse, validate, cosine, table search, JSON answer)', fmt(h, 0), fmt(h / p)],
    ]),
    '',
    `Target: at least 0.90. Result: **${fmt(h / p)}** (${h / p >= 0.9 ? 'met' : 'NOT met'}).`,
  ].join('\n');
}

if (isMain(import.meta.url)) runCompareBench().then((md) => console.log(md));
