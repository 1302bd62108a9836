/**
 * compare-face-embeddings-batch (issue 11): one batch of 1,000 candidates of 512 numbers (table
 * mode) against the same 1,000 pairs sent as single compare-face-embeddings calls, both through
 * the same local gateway (auth, body read, validation, scoring, JSON answer), over keep-alive
 * connections. Singles are sent one after the other (one connection, as a simple client does)
 * and 16 in flight (a client that parallelises); rounds alternate so machine noise hits all alike.
 * The answers are checked equal, so the bench cannot be fast by being wrong.
 */
import { Agent, request } from 'undici';
import { PATHS } from '../../lambda/shared/contract.js';
import { gatewayEnvFrom } from '../../local/config.js';
import { startGateway } from '../../local/gateway.js';
import { fmt, isMain, median, table } from './stats.js';

const DIMENSION = 512;
const CANDIDATES = 1000;
const ROUNDS = 5;
const IN_FLIGHT = 16;
const KEY = 'bench-batch-key-0123456789abcdef';

/** Seeded unit vectors rounded to 4 decimals (about 8 bytes per number: the body stays under the 6 MB limit). */
function vectors(count: number, seed: number): number[][] {
  let s = seed;
  return Array.from({ length: count }, () => {
    const v = Array.from({ length: DIMENSION }, () => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return s / 2 ** 30 - 1;
    });
    const n = Math.hypot(...v);
    return v.map((x) => Math.round((x / n) * 1e4) / 1e4);
  });
}

export async function runCompareBatchBench(): Promise<string> {
  // The embedded engine's gateway: compares in table mode from its score table, as `npm start` does.
  const gateway = await startGateway(gatewayEnvFrom({ PORT: '0', API_KEYS: KEY }), { log: () => undefined });
  const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: IN_FLIGHT });
  const headers = { 'content-type': 'application/json', authorization: `ApiKey ${KEY}` };
  const post = async (path: string, body: string): Promise<any> => {
    const res = await request(`${gateway.url}${path}`, { method: 'POST', headers, body, dispatcher });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${path} answered ${res.statusCode}: ${text.slice(0, 200)}`);
    return JSON.parse(text);
  };
  try {
    // Probe plus candidates near it, so the scores spread over the table.
    const [probe] = vectors(1, 11);
    const noise = vectors(CANDIDATES, 12);
    const candidates = noise.map((v, i) => v.map((x, j) => Math.round(((probe![j]! * (i % 10)) / 9 + x * (1 - (i % 10) / 9)) * 1e4) / 1e4));
    const batchBody = JSON.stringify({ embedding: probe, embeddings: candidates });
    const singleBodies = candidates.map((c) => JSON.stringify({ embedding1: probe, embedding2: c }));

    let batchAnswer: number[] = [];
    const batchRound = async () => {
      const t = performance.now();
      batchAnswer = (await post(PATHS.compareFaceEmbeddingsBatch, batchBody)).similarities;
      return performance.now() - t;
    };
    let singleAnswers: number[] = [];
    const sequentialRound = async () => {
      const t = performance.now();
      const out: number[] = [];
      for (const body of singleBodies) out.push((await post(PATHS.compareFaceEmbeddings, body)).similarity);
      singleAnswers = out;
      return performance.now() - t;
    };
    const parallelRound = async () => {
      const t = performance.now();
      const out = new Array<number>(singleBodies.length);
      let next = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < singleBodies.length) {
            const i = next++;
            out[i] = (await post(PATHS.compareFaceEmbeddings, singleBodies[i]!)).similarity;
          }
        }),
      );
      return performance.now() - t;
    };

    // Warm-up (JIT, sockets), then alternating rounds.
    await batchRound();
    await sequentialRound();
    await parallelRound();
    const batch: number[] = [];
    const sequential: number[] = [];
    const parallel: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      batch.push(await batchRound());
      sequential.push(await sequentialRound());
      parallel.push(await parallelRound());
    }
    const mismatches = batchAnswer.filter((s, i) => s !== singleAnswers[i]).length;
    if (batchAnswer.length !== CANDIDATES || mismatches > 0) throw new Error(`the batch disagrees with the single compares on ${mismatches} of ${CANDIDATES} pairs`);

    const b = median(batch);
    const s = median(sequential);
    const p = median(parallel);
    return [
      '### compare-face-embeddings-batch vs single compares (table mode, through the local gateway)',
      '',
      `${CANDIDATES} candidates of ${DIMENSION} numbers: one batch body of ${(batchBody.length / 1e6).toFixed(2)} MB vs ${CANDIDATES} single bodies of about ${(singleBodies[0]!.length / 1e3).toFixed(1)} kB each. ` +
        `${ROUNDS} alternating rounds after a warm-up, median wall time per ${CANDIDATES} pairs; every batch answer equals the single compares (checked).`,
      '',
      table(['what', `ms per ${CANDIDATES} pairs`, 'pairs/s', 'ratio to the batch'], [
        ['1 batch of 1,000 candidates', fmt(b, 1), fmt((CANDIDATES / b) * 1000, 0), '1.00'],
        ['1,000 single compares, one after the other (1 connection)', fmt(s, 1), fmt((CANDIDATES / s) * 1000, 0), fmt(s / b)],
        [`1,000 single compares, ${IN_FLIGHT} in flight`, fmt(p, 1), fmt((CANDIDATES / p) * 1000, 0), fmt(p / b)],
      ]),
      '',
      `Result: the batch is **${fmt(s / b, 1)}x** faster than sequential singles and **${fmt(p / b, 1)}x** faster than ${IN_FLIGHT} singles in flight.`,
    ].join('\n');
  } finally {
    await dispatcher.close();
    await gateway.close();
  }
}

if (isMain(import.meta.url)) runCompareBatchBench().then((md) => console.log(md));
