/**
 * Calibration against real HTTP backends: the embedded engine, and scorers the
 * test starts (floor vs round, a norm-dependent one, one with a flat region and a jump).
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosine, deployableTableProblem, loadScoreTable, scoreEmbeddings } from '../../lambda/shared/score-table.js';
import { calibrate } from '../../scripts/calibration/calibrate.js';
import { createCompareProbe, type CompareProbe } from '../../scripts/calibration/probe.js';
import { randomPair, rng } from '../../lambda/shared/embedding-vectors.js';
import { startEngineServer, type EngineServer } from '../../local/engine/server.js';

type Scorer = (a: number[], b: number[]) => number;

/** A backend speaking the compare contract with a given score function (400 for what our validation refuses). */
async function startScorer(score: Scorer, options: { rateLimitEvery?: number; failEvery?: number } = {}): Promise<{ url: string; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits++;
      if (options.rateLimitEvery && hits % options.rateLimitEvery === 0) return void res.writeHead(429, { 'retry-after': '1' }).end();
      if (options.failEvery && hits % options.failEvery === 0) return void res.writeHead(503).end();
      let body: { embedding1?: unknown; embedding2?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString());
      } catch {
        return void res.writeHead(400).end('{}');
      }
      const { embedding1: a, embedding2: b } = body;
      const valid = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
      if (!valid(a) || !valid(b) || a.length !== b.length) return void res.writeHead(400, { 'content-type': 'application/problem+json' }).end('{"status":400}');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ similarity: score(a, b) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits, close: () => new Promise((r) => server.close(() => r())) };
}

const cos = (a: number[], b: number[]) => cosine(a, b);
const clampScore = (x: number) => Math.max(-1, Math.min(100, x));
const SCORERS: Record<string, Scorer> = {
  floor: (a, b) => { const c = cos(a, b); return Number.isNaN(c) ? -1 : c < 0 ? -1 : clampScore(Math.floor(100 * c)); },
  round: (a, b) => { const c = cos(a, b); return Number.isNaN(c) ? -1 : c < 0 ? -1 : clampScore(Math.round(100 * c)); },
  flatAndJump: (a, b) => {
    const c = cos(a, b);
    if (Number.isNaN(c) || c < 0.2) return 0;
    if (c < 0.6) return 35; // flat region...
    return 60 + Math.floor(40 * (c - 0.6) / 0.4); // ...then a jump from 35 to 60
  },
};

async function agreement(probe: CompareProbe, table: Parameters<typeof scoreEmbeddings>[0], dimension: number, pairs: number, seed: number): Promise<number> {
  const random = rng(seed);
  const jobs = Array.from({ length: pairs }, () => randomPair(dimension, -1 + 2 * random(), random));
  const answers = await Promise.all(jobs.map(([a, b]) => probe.compare(a, b)));
  return answers.filter((answer, i) => answer.similarity === scoreEmbeddings(table, jobs[i]![0], jobs[i]![1])).length;
}

describe('calibrate test scorers', () => {
  it.each(Object.keys(SCORERS))('reproduces the %s scorer exactly', async (name) => {
    const scorer = await startScorer(SCORERS[name]!);
    const probe = createCompareProbe({ endpoint: scorer.url, concurrency: 16 });
    try {
      const result = await calibrate({ probe, dimension: 64, backend: `test ${name}`, endpoint: scorer.url, gridSteps: 1000 });
      expect(result.ok, result.ok ? '' : result.reason).toBe(true);
      if (!result.ok) return;
      expect(result.table.calibration.verification).toMatchObject({ mismatches: 0, passed: true });
      expect(result.table.calibration.verification.randomPairs).toBeGreaterThanOrEqual(1000);
      expect(await agreement(probe, result.table, 64, 2000, 99)).toBe(2000);
      if (name === 'floor') expect(result.table.boundaries.find((b) => b.score === 70)!.cosine).toBeCloseTo(0.7, 8);
      if (name === 'round') expect(result.table.boundaries.find((b) => b.score === 70)!.cosine).toBeCloseTo(0.695, 8);
      if (name === 'flatAndJump') {
        const scores = result.table.boundaries.map((b) => b.score);
        expect(scores.slice(0, 4)).toEqual([0, 35, 60, 61]);
        expect(result.table.boundaries[2]!.cosine).toBeCloseTo(0.6, 8);
      }
    } finally {
      await probe.close();
      await scorer.close();
    }
  });

  it('refuses a scorer that depends on the vector norm, naming the failed invariance', async () => {
    const scorer = await startScorer((a, b) => clampScore(Math.floor(100 * cos(a, b) * Math.min(1, Math.hypot(...a)))));
    const probe = createCompareProbe({ endpoint: scorer.url });
    try {
      const result = await calibrate({ probe, dimension: 32, backend: 'norm', endpoint: scorer.url });
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.reason).toMatch(/not a function of the cosine alone: .*scale/);
      expect(result.invarianceFailures!.some((f) => f.check === 'scale-first')).toBe(true);
      expect(result.invarianceFailures!.every((f) => f.check === 'scale-first')).toBe(true);
      expect(result.table).toBeUndefined();
    } finally {
      await probe.close();
      await scorer.close();
    }
  });

  it('waits out 429 Retry-After and retries transient 503s', async () => {
    const scorer = await startScorer(SCORERS.floor!, { rateLimitEvery: 7, failEvery: 11 });
    const slept: number[] = [];
    const probe = createCompareProbe({ endpoint: scorer.url, concurrency: 1, sleep: async (ms) => void slept.push(ms) });
    try {
      const answers = await Promise.all(Array.from({ length: 30 }, () => probe.compare([1, 0], [0.5, 0.5])));
      expect(answers.every((a) => a.status === 200 && a.similarity === 70)).toBe(true);
      expect(slept).toContain(1000);
      expect(probe.requests()).toBeGreaterThan(30);
    } finally {
      await probe.close();
      await scorer.close();
    }
  });

  it('resumes an interrupted run from its state file with the same result', async () => {
    const scorer = await startScorer(SCORERS.round!);
    const statePath = join(mkdtempSync(join(tmpdir(), 'calibrate-')), 'table.json.state.json');
    const real = createCompareProbe({ endpoint: scorer.url, concurrency: 4 });
    let allowed = 1500;
    const failing: CompareProbe = {
      ...real,
      compare: (a, b) => (allowed-- > 0 ? real.compare(a, b) : Promise.reject(new Error('connection lost'))),
      compareRaw: (body) => real.compareRaw(body),
    };
    try {
      await expect(calibrate({ probe: failing, dimension: 16, backend: 'r', endpoint: scorer.url, statePath, gridSteps: 1000 })).rejects.toThrow('connection lost');
      const before = scorer.hits();
      const fresh = createCompareProbe({ endpoint: scorer.url, concurrency: 4 });
      const resumed = await calibrate({ probe: fresh, dimension: 16, backend: 'r', endpoint: scorer.url, statePath, gridSteps: 1000 });
      const resumedRequests = scorer.hits() - before;
      await fresh.close();
      const clean = createCompareProbe({ endpoint: scorer.url, concurrency: 4 });
      const full = await calibrate({ probe: clean, dimension: 16, backend: 'r', endpoint: scorer.url, gridSteps: 1000 });
      await clean.close();
      expect(resumed.ok && full.ok).toBe(true);
      if (!resumed.ok || !full.ok) return;
      expect(resumed.table.boundaries).toEqual(full.table.boundaries);
      expect(resumedRequests).toBeLessThan(full.table.calibration.requests - 500);
    } finally {
      await real.close();
      await scorer.close();
    }
  });
});

describe('calibrate the embedded engine over HTTP', () => {
  let engine: EngineServer;
  beforeAll(async () => {
    engine = await startEngineServer({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => engine?.close());

  it('recovers its table and agrees on 10,000 random pairs', async () => {
    const probe = createCompareProbe({ endpoint: engine.url, concurrency: 16 });
    try {
      const result = await calibrate({ probe, dimension: 128, backend: 'embedded engine', endpoint: engine.url, imageDigest: `sha256:${'a'.repeat(64)}` });
      expect(result.ok, result.ok ? '' : result.reason).toBe(true);
      if (!result.ok) return;
      expect(result.table.edgeCases.zeroVector).toMatchObject({ status: 200, matches: true });
      // What the CDK config demands of a table before compares are answered in Lambda.
      expect(deployableTableProblem(result.table)).toBeUndefined();
      expect(deployableTableProblem({ ...result.table, calibrated: false })).toMatch(/not calibrated/);
      // A table that names no image is refused for table mode (it could describe any image).
      expect(deployableTableProblem({ ...result.table, calibration: { ...result.table.calibration, imageDigest: null } })).toMatch(/names no image digest/);
      expect(deployableTableProblem(loadScoreTable(new URL('../../local/engine/score-table.json', import.meta.url).pathname))).toMatch(/not calibrated/);
      expect(await agreement(probe, result.table, 128, 10_000, 4242)).toBe(10_000);
    } finally {
      await probe.close();
    }
  }, 120_000);
});
