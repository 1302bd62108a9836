/**
 * The compare-check Lambda over a real container stand-in on 127.0.0.1 and a mocked Secrets
 * Manager flag; then the compare function's own wiring reading that flag: a changed container
 * score function is caught by one check and compare answers exactly as the container afterwards.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { classifyCheckEvent } from '../../lambda/shared/compare-check.js';
import { createCompareHandler } from '../../lambda/shared/compare.js';
import { compareDepsFromEnv } from '../../lambda/shared/compare-env.js';
import { INITIAL_COMPARE_MODE_FLAG, parseCompareModeFlag } from '../../lambda/shared/compare-mode.js';
import { PATHS } from '../../lambda/shared/contract.js';
import { randomPair, rng } from '../../lambda/shared/embedding-vectors.js';
import { loadScoreTable, scoreEmbeddings, type ScoreTable } from '../../lambda/shared/score-table.js';
import { PASSED_CALIBRATION, writeCalibratedTable } from '../lib/calibrated-table.js';
import { postEvent } from '../helpers/events.js';
import { recordingLogger } from '../helpers/logs.js';

const secretsMock = mockClient(SecretsManagerClient);
const SECRET_ID = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:compare-mode-AbCdEf';
const tableFile = writeCalibratedTable();
const table = loadScoreTable(tableFile);
type Scorer = (a: number[], b: number[]) => number;
const asTable: Scorer = (a, b) => scoreEmbeddings(table, a, b) as number;

let score: Scorer = asTable;
let status = 200;
let containerCompares = 0;
let server: Server;
let backendUrl: string;
let stored: string | undefined;
let output: string[];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      containerCompares++;
      if (status !== 200) return void res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      const { embedding1, embedding2 } = JSON.parse(Buffer.concat(chunks).toString()) as { embedding1: number[]; embedding2: number[] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ similarity: score(embedding1, embedding2) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backendUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  score = asTable;
  status = 200;
  containerCompares = 0;
  stored = JSON.stringify(INITIAL_COMPARE_MODE_FLAG);
  secretsMock.reset();
  secretsMock.on(GetSecretValueCommand).callsFake(() => ({ SecretString: stored }));
  secretsMock.on(PutSecretValueCommand).callsFake((input: { SecretString?: string }) => {
    stored = input.SecretString;
    return {};
  });
  for (const [k, v] of Object.entries({ SCORE_TABLE: tableFile, BACKEND_URL: backendUrl, COMPARE_MODE_SECRET_ID: SECRET_ID, CHECK_RANDOM_PAIRS: '16' })) vi.stubEnv(k, v);
  output = [];
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      output.push(String(chunk));
      return true;
    });
  }
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

async function checkHandler() {
  vi.resetModules();
  return (await import('../../lambda/compare-check.js')).handler;
}

/** One boundary moved by 5e-8: what a new image with a slightly different score function looks like. */
function movedScorer(index: number): Scorer {
  const moved: ScoreTable = { ...table, boundaries: table.boundaries.map((b, i) => (i === index ? { ...b, cosine: b.cosine + 5e-8 } : b)) };
  return (a, b) => scoreEmbeddings(moved, a, b) as number;
}

const scheduled = { source: 'aws.events', 'detail-type': 'Scheduled Event' };
const emf = () => output.filter((line) => line.includes('"_aws"')).map((line) => JSON.parse(line) as Record<string, unknown>);

describe('the compare-check function', () => {
  it('GIVEN a container that agrees WHEN the schedule runs THEN the flag stays table and the metrics say 0 mismatches', async () => {
    const handler = await checkHandler();
    const answer = await handler(scheduled);
    expect(answer).toMatchObject({ mode: 'table', switched: false, verdict: 'agree', mismatches: 0, tableDigest: PASSED_CALIBRATION.imageDigest });
    expect(answer.pairs).toBe(16 + 2 * (table.boundaries.length - 1));
    expect(containerCompares).toBe(answer.pairs);
    expect(secretsMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    const metrics = emf()[0]!;
    expect(metrics).toMatchObject({ CompareTableMismatches: 0, CompareForwarding: 0, CompareCheckInconclusive: 0, service: 'face-compare-check' });
    // The alarms watch FaceVerification / <metric> with the dimension service=face-compare-check.
    expect(metrics._aws).toMatchObject({ CloudWatchMetrics: [{ Namespace: 'FaceVerification', Dimensions: [['service']] }] });
  });

  it('GIVEN the container\'s score function changed WHEN one check runs THEN compare switches to forwarding and then answers exactly as the container', async () => {
    const handler = await checkHandler();
    score = movedScorer(60);
    const answer = await handler({ source: 'aws.ecs', 'detail-type': 'ECS Deployment State Change', detail: { eventName: 'SERVICE_DEPLOYMENT_COMPLETED' } });
    expect(answer).toMatchObject({ mode: 'forward', switched: true, verdict: 'drift' });
    expect(answer.mismatches).toBeGreaterThanOrEqual(1);
    const flag = parseCompareModeFlag(stored);
    expect(flag).toMatchObject({ mode: 'forward', by: 'compare-check' });
    expect(flag.reason).toMatch(/live check \(deployment\): \d+ of \d+ pairs differ/);
    expect(emf()[0]).toMatchObject({ CompareForwarding: 1 });
    expect(emf()[0]!.CompareTableMismatches).toBeGreaterThanOrEqual(1);

    // The compare function, wired as in AWS, reads the flag and forwards.
    vi.stubEnv('COMPARE_MODE', 'table');
    const logger = recordingLogger();
    const compare = createCompareHandler(compareDepsFromEnv(process.env, logger, '/'));
    const boundary = table.boundaries[60]!;
    const random = rng(5);
    const pairs = [randomPair(128, boundary.cosine + 2e-8, random), ...Array.from({ length: 30 }, () => randomPair(128, -1 + 2 * random(), random))];
    const before = containerCompares;
    for (const [a, b] of pairs) {
      const result = await compare(postEvent(PATHS.compareFaceEmbeddings, { embedding1: a, embedding2: b }));
      expect(JSON.parse(result.body)).toEqual({ similarity: score(a, b) });
    }
    // The instance says once that it now forwards, and why.
    expect(logger.lines.filter((l) => l.includes('compare mode: forwarding to the container'))).toHaveLength(1);
    expect(logger.text()).toContain('"by":"compare-check"');
    // The pair just above the moved boundary is where the table would have been wrong.
    expect(score(...pairs[0]!)).toBe(boundary.score - 1);
    expect(containerCompares - before).toBe(pairs.length);
    // No embedding value in any log line or metric.
    expect(output.join('')).not.toContain(String(pairs[0]![0][0]));
  });

  it('GIVEN compare is forwarding WHEN an operator asks for the table while the container still disagrees THEN it is refused; once they agree it is switched back', async () => {
    const handler = await checkHandler();
    score = movedScorer(40);
    await handler(scheduled);
    expect(parseCompareModeFlag(stored).mode).toBe('forward');
    const refused = await handler({ action: 'enable-table' });
    expect(refused).toMatchObject({ mode: 'forward', switched: false, verdict: 'drift' });
    expect(refused.refused).toMatch(/disagrees with the container .*recalibrate first/);
    // A scheduled check that agrees does not switch back by itself.
    score = asTable;
    expect(await handler(scheduled)).toMatchObject({ mode: 'forward', switched: false, verdict: 'agree' });
    expect(await handler({ action: 'enable-table' })).toMatchObject({ mode: 'table', switched: true, verdict: 'agree' });
    expect(parseCompareModeFlag(stored)).toMatchObject({ mode: 'table', by: 'operator' });
  });

  it('GIVEN a container answering 503 WHEN the check runs THEN it is inconclusive, counted, and table mode stays', async () => {
    const handler = await checkHandler();
    status = 503;
    expect(await handler(scheduled)).toMatchObject({ mode: 'table', switched: false, verdict: 'inconclusive', mismatches: 0 });
    expect(emf()[0]).toMatchObject({ CompareCheckInconclusive: 1, CompareForwarding: 0 });
    expect(secretsMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('GIVEN an operator\'s forward request WHEN run THEN the flag says forward with the reason, without a check', async () => {
    const handler = await checkHandler();
    expect(await handler({ action: 'forward', reason: 'maintenance' })).toMatchObject({ mode: 'forward', switched: true });
    expect(parseCompareModeFlag(stored)).toMatchObject({ mode: 'forward', by: 'operator', reason: 'maintenance' });
    expect(containerCompares).toBe(0);
  });

  it('GIVEN a status request WHEN run THEN the stored flag and the table digest come back, without a check', async () => {
    const handler = await checkHandler();
    stored = JSON.stringify({ mode: 'forward', by: 'image-rollout', reason: 'follow rollout of sha256:x', since: '2026-12-01T00:00:00.000Z' });
    expect(await handler({ action: 'status' })).toMatchObject({ mode: 'forward', switched: false, tableDigest: PASSED_CALIBRATION.imageDigest, flag: { by: 'image-rollout', reason: 'follow rollout of sha256:x' } });
    expect(containerCompares).toBe(0);
    // A flag that is not valid reads as forwarding: the container is never wrong.
    stored = 'not json';
    expect(await handler({ action: 'status' })).toMatchObject({ mode: 'forward' });
  });

  it('GIVEN other events WHEN classified THEN they are refused without echoing them', () => {
    expect(() => classifyCheckEvent({ action: 'drop-tables', secret: 'xyz' })).toThrow(/^unsupported event/);
    expect(() => classifyCheckEvent({ action: 'drop-tables', secret: 'xyz' })).not.toThrow(/xyz/);
    expect(classifyCheckEvent({ source: 'aws.scheduler' })).toEqual({ kind: 'scheduled' });
  });
});

describe('the compare function in table mode', () => {
  it('GIVEN a table without an image digest WHEN the function starts THEN it refuses to load it', () => {
    const file = writeCalibratedTable({ calibration: { ...PASSED_CALIBRATION, imageDigest: null } });
    const logger = recordingLogger();
    expect(() => compareDepsFromEnv({ COMPARE_MODE: 'table', SCORE_TABLE: file }, logger, '/')).toThrow(/names no image digest.*table mode refuses it/);
  });

  it('GIVEN the flag cannot be read at all WHEN a compare arrives THEN it is forwarded (the container is never wrong)', async () => {
    secretsMock.on(GetSecretValueCommand).rejects(Object.assign(new Error('endpoint down'), { name: 'InternalServiceError' }));
    const logger = recordingLogger();
    const { lines } = logger;
    const compare = createCompareHandler(compareDepsFromEnv({ COMPARE_MODE: 'table', SCORE_TABLE: tableFile, BACKEND_URL: backendUrl, COMPARE_MODE_SECRET_ID: SECRET_ID }, logger, '/'));
    score = () => 42;
    const [a, b] = randomPair(128, 0.9, rng(1));
    const result = await compare(postEvent(PATHS.compareFaceEmbeddings, { embedding1: a, embedding2: b }));
    expect(JSON.parse(result.body)).toEqual({ similarity: 42 });
    expect(JSON.stringify(lines)).toMatch(/compare-mode flag unreadable/);
  });
});
