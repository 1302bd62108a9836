/**
 * `npm start` with BACKEND_URL + COMPARE_MODE=table: the gateway checks its table against a real
 * backend on 127.0.0.1 at start and every COMPARE_CHECK_INTERVAL_S, and falls back to forwarding
 * when the backend's score function changes under it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PATHS } from '../../lambda/shared/contract.js';
import { randomPair, rng } from '../../lambda/shared/embedding-vectors.js';
import { loadScoreTable, scoreEmbeddings, scoreForCosine, type ScoreTable } from '../../lambda/shared/score-table.js';
import { ENGINE_SCORE_TABLE_PATH } from '../../local/engine/score.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const table = loadScoreTable(ENGINE_SCORE_TABLE_PATH);

type Scorer = (a: number[], b: number[]) => number;

/** A backend speaking the compare contract with a score function the test can swap while it runs. */
async function startScoringBackend(initial: Scorer): Promise<{ url: string; compares: () => number; use(next: Scorer): void; fail(status: number | undefined): void; close(): Promise<void> }> {
  let score = initial;
  let failWith: number | undefined;
  let compares = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url !== PATHS.compareFaceEmbeddings) return void res.writeHead(404).end();
      compares++;
      if (failWith) return void res.writeHead(failWith, { 'content-type': 'application/json' }).end('{}');
      const { embedding1, embedding2 } = JSON.parse(Buffer.concat(chunks).toString()) as { embedding1: number[]; embedding2: number[] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ similarity: score(embedding1, embedding2) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    compares: () => compares,
    use: (next) => {
      score = next;
    },
    fail: (status) => {
      failWith = status;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The table's own score function (what the backend does before it changes). */
const asTable: Scorer = (a, b) => scoreEmbeddings(table, a, b) as number;

/** The same function with one boundary moved up by 5e-8: random pairs almost never land in that gap. */
function withBoundaryMoved(index: number, by: number): { scorer: Scorer; moved: ScoreTable } {
  const moved: ScoreTable = { ...table, boundaries: table.boundaries.map((b, i) => (i === index ? { ...b, cosine: b.cosine + by } : b)) };
  return { moved, scorer: (a, b) => scoreEmbeddings(moved, a, b) as number };
}

const waitFor = async (condition: () => boolean, timeoutMs: number) => {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

const logged = (gateway: TestGateway) => gateway.logs.map((line) => JSON.parse(line) as { level: string; msg: string; verdict?: string; mismatches?: number });

describe('the local live check of table mode', () => {
  let gateway: TestGateway | undefined;
  let backend: Awaited<ReturnType<typeof startScoringBackend>> | undefined;
  afterEach(async () => {
    await gateway?.close();
    await backend?.close();
    gateway = undefined;
    backend = undefined;
  });

  it('GIVEN a backend whose score function changes while the gateway runs WHEN the next check runs THEN it is detected and compare answers exactly as the backend', async () => {
    backend = await startScoringBackend(asTable);
    gateway = await startTestGateway({ BACKEND_URL: backend.url, COMPARE_MODE: 'table', SCORE_TABLE: ENGINE_SCORE_TABLE_PATH, COMPARE_CHECK_INTERVAL_S: '1' });
    const watch = gateway.compareWatch!;
    // The start check ran before the gateway answered anything, and agreed.
    expect(watch.last()).toMatchObject({ verdict: 'agree', mismatchCount: 0, errors: 0 });
    expect(watch.last()!.pairs).toBe(32 + 2 * (table.boundaries.length - 1));
    expect(logged(gateway).find((l) => l.msg.startsWith('compare check'))).toMatchObject({ level: 'info', verdict: 'agree' });

    // Boundary 50 moves up by 5e-8; a pair 1e-8 above the old boundary is where the two now differ.
    const index = 50;
    const { scorer, moved } = withBoundaryMoved(index, 5e-8);
    const boundary = table.boundaries[index]!;
    const [a, b] = randomPair(128, boundary.cosine + 2e-8, rng(7));
    const before = await gateway.post(PATHS.compareFaceEmbeddings, { embedding1: a, embedding2: b });
    expect(before.body).toEqual({ similarity: boundary.score });
    const comparesBefore = backend.compares();

    backend.use(scorer);
    const checksBefore = gateway.logs.length;
    // Detected within one check: the interval is 1 s, the change happened after the last check.
    await waitFor(() => watch.forwarding(), 2_500);
    const drift = logged(gateway).slice(checksBefore).find((l) => l.msg.startsWith('compare check'))!;
    expect(drift).toMatchObject({ level: 'error', verdict: 'drift' });
    expect(drift.mismatches).toBeGreaterThanOrEqual(1);
    // No embedding in the log line, only cosines and integers.
    expect(gateway.logs.join('\n')).not.toContain(String(a[0]));

    // From now on compare is the backend's: same answers, and the backend is asked.
    const after = await gateway.post(PATHS.compareFaceEmbeddings, { embedding1: a, embedding2: b });
    expect(after.body).toEqual({ similarity: scoreForCosine(moved, boundary.cosine + 2e-8) });
    expect(after.body.similarity).toBe(boundary.score - 1);
    const random = rng(11);
    for (let i = 0; i < 50; i++) {
      const [x, y] = randomPair(128, -1 + 2 * random(), random);
      const answer = await gateway.post(PATHS.compareFaceEmbeddings, { embedding1: x, embedding2: y });
      expect(answer.body).toEqual({ similarity: scorer(x, y) });
    }
    // Every one of those 51 compares (plus the check's own pairs) reached the backend.
    expect(backend.compares() - comparesBefore).toBeGreaterThanOrEqual(51);
  }, 20_000);

  it('GIVEN a backend that fails the check\'s requests WHEN the check runs THEN it is inconclusive and the table keeps answering', async () => {
    backend = await startScoringBackend(asTable);
    backend.fail(503);
    gateway = await startTestGateway({ BACKEND_URL: backend.url, COMPARE_MODE: 'table', SCORE_TABLE: ENGINE_SCORE_TABLE_PATH, COMPARE_CHECK_INTERVAL_S: '300' });
    const watch = gateway.compareWatch!;
    expect(watch.last()).toMatchObject({ verdict: 'inconclusive', mismatchCount: 0 });
    expect(watch.forwarding()).toBe(false);
    expect(logged(gateway).find((l) => l.msg.startsWith('compare check'))).toMatchObject({ level: 'warn' });
    const [a, b] = randomPair(128, 0.8, rng(3));
    const answer = await gateway.post(PATHS.compareFaceEmbeddings, { embedding1: a, embedding2: b });
    expect(answer.body).toEqual({ similarity: asTable(a, b) });

    // The backend recovers but with another score function: the next check (run now) catches it.
    backend.fail(undefined);
    backend.use((x, y) => Math.min(100, asTable(x, y) + 1));
    expect((await watch.runNow()).verdict).toBe('drift');
    expect(watch.forwarding()).toBe(true);
  }, 20_000);

  it('GIVEN COMPARE_CHECK_INTERVAL_S WHEN it is not a whole number of seconds THEN the start is refused naming it', async () => {
    const { gatewayEnvFrom } = await import('../../local/config.js');
    expect(() => gatewayEnvFrom({ COMPARE_CHECK_INTERVAL_S: '0' })).toThrow(/COMPARE_CHECK_INTERVAL_S: must be an integer from 1 to 86400/);
    expect(gatewayEnvFrom({}).COMPARE_CHECK_INTERVAL_S).toBe(300);
  });
});
