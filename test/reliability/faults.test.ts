/**
 * Suite 3, faults upstream: a backend that stalls, crashes, talks garbage, is
 * overloaded or disappears mid-run; image hosts that hang; a JWKS endpoint
 * that is down, hangs or answers nonsense. Every answer is a problem body
 * with the documented status (502/503/504 for the backend, 4xx for the image
 * host, 503 for Bearer calls while ApiKey calls carry on), at the configured
 * deadline, never later, and never with the upstream's internals in it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS } from '../../lambda/shared/contract.js';
import { sample } from '../helpers/images.js';
import { answerProblems, recordFigures } from '../helpers/reliability/answers.js';
import { createClient, type Answer, type Client } from '../helpers/reliability/client.js';
import { startFaultyBackend, startFaultyJwks, TRACEBACK, type BackendMode, type FaultyBackend, type FaultyJwks } from '../helpers/reliability/fault-servers.js';
import { startGatewayInProcess, type InProcessGateway } from '../helpers/reliability/gateway.js';
import { startAttackerHost, type Listening } from '../helpers/reliability/ssrf.js';

const KEY = 'fault-suite-key-0123456789abcdef';
const BACKEND_TIMEOUT_MS = 800;
const FETCH_TIMEOUT_MS = 1000;
/** Scheduling slack on a loaded 2-core machine. */
const SLACK_MS = 700;
const jpeg = sample(2).toString('base64');

const CALLS = [
  ['detect-faces', PATHS.detectFaces, JSON.stringify({ image: { bytes: jpeg }, maxFaceCount: 2 })],
  ['get-face-embeddings', PATHS.getFaceEmbeddings, JSON.stringify({ image: { bytes: jpeg } })],
  ['compare-face-embeddings (forwarded)', PATHS.compareFaceEmbeddings, JSON.stringify({ embedding1: [0.1, 0.2, 0.3], embedding2: [0.1, 0.2, 0.31] })],
] as const;

const problemOf = (answer: Answer) => JSON.parse(answer.text) as { status: number; type: string; detail: string };

describe('backend faults', () => {
  let backend: FaultyBackend;
  let images: Listening;
  let gw: InProcessGateway;
  let client: Client;
  const figures: Array<{ fault: string; status: number; ms: number }> = [];

  beforeAll(async () => {
    backend = await startFaultyBackend();
    images = await startAttackerHost(sample(1));
    gw = await startGatewayInProcess({
      API_KEYS: KEY,
      BACKEND_URL: backend.url,
      BACKEND_TIMEOUT_MS: String(BACKEND_TIMEOUT_MS),
      IMAGE_FETCH_ALLOW_CIDRS: '127.0.0.2/32',
      IMAGE_FETCH_TIMEOUT_MS: String(FETCH_TIMEOUT_MS),
    });
    client = createClient(gw.url, { connections: 16, hangMs: 10_000, authorization: `ApiKey ${KEY}` });
  });
  afterAll(async () => {
    await client?.close();
    await gw?.close();
    await backend?.close();
    await images?.close();
    recordFigures('faults', { cases: figures.length, fiveXxWithBody: figures.filter((f) => f.status >= 500).length, results: figures });
  });

  const MODES: ReadonlyArray<readonly [BackendMode, number, string]> = [
    ['garbage', 502, 'bad-gateway'],
    ['off-contract', 502, 'bad-gateway'],
    ['error-500', 502, 'bad-gateway'],
    ['html-502', 502, 'bad-gateway'],
    ['auth-401', 502, 'bad-gateway'],
    ['reset', 502, 'bad-gateway'],
    ['huge', 502, 'bad-gateway'],
    ['overloaded-503', 503, 'service-unavailable'],
    ['throttled-429', 503, 'service-unavailable'],
    ['stall', 504, 'gateway-timeout'],
    ['drip', 504, 'gateway-timeout'],
  ];

  describe.each(CALLS)('%s', (_name, path, body) => {
    it.each(MODES)('GIVEN the backend answers "%s" THEN %i %s with a body, within the backend deadline', async (mode, status, kind) => {
      backend.mode = mode;
      try {
        const answer = await client.post(path, body);
        figures.push({ fault: `${mode} ${path.split('/').pop()}`, status: answer.status, ms: Math.round(answer.ms) });
        expect(answerProblems(answer, { allow5xx: true, expected: { status } })).toEqual([]);
        expect(problemOf(answer).type).toBe(`urn:face-verification:problem:${kind}`);
        expect(answer.ms).toBeLessThan(BACKEND_TIMEOUT_MS + SLACK_MS);
        if (status === 504) expect(answer.ms).toBeGreaterThanOrEqual(BACKEND_TIMEOUT_MS - 50);
        if (mode === 'overloaded-503') expect(answer.headers['retry-after']).toBe('7');
        if (status === 503) expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        // The upstream's own words (tracebacks, load balancer names) never reach the client.
        for (const secret of ['Traceback', 'secret-internal-detail', 'internal-alb', 'arcface', TRACEBACK.slice(0, 20)]) expect(answer.text).not.toContain(secret);
      } finally {
        backend.mode = 'ok';
      }
    });

    it('GIVEN the backend is stopped THEN 503 with Retry-After at once; WHEN it is back THEN 200', async () => {
      await backend.stop();
      try {
        const down = await client.post(path, body);
        figures.push({ fault: `stopped ${path.split('/').pop()}`, status: down.status, ms: Math.round(down.ms) });
        expect(answerProblems(down, { allow5xx: true, expected: { status: 503, kinds: ['service-unavailable'] } })).toEqual([]);
        expect(Number(down.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect(down.ms).toBeLessThan(1000);
      } finally {
        await backend.start();
      }
      const up = await client.post(path, body);
      expect(up.status).toBe(200);
    });
  });

  it('GIVEN the backend is stopped mid-run under load THEN only 200/502/503 with bodies, and full recovery once it returns', async () => {
    const timeline: Array<{ at: number; status: number; problems: string[] }> = [];
    const started = performance.now();
    let stopAt = 0;
    let startAt = 0;
    let running = true;
    const worker = async (i: number) => {
      while (running) {
        const [, path, body] = CALLS[i % CALLS.length]!;
        const answer = await client.post(path, body);
        const problems = answerProblems(answer, { allow5xx: true });
        if (![200, 502, 503].includes(answer.status)) problems.push(`status ${answer.status}`);
        timeline.push({ at: performance.now() - started, status: answer.status, problems });
      }
    };
    const workers = Array.from({ length: 8 }, (_, i) => worker(i));
    await new Promise((resolve) => setTimeout(resolve, 700));
    stopAt = performance.now() - started;
    await backend.stop();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    startAt = performance.now() - started;
    await backend.start();
    await new Promise((resolve) => setTimeout(resolve, 1300));
    running = false;
    await Promise.all(workers);

    expect(timeline.flatMap((t) => t.problems)).toEqual([]);
    const during = timeline.filter((t) => t.at > stopAt + 100 && t.at < startAt);
    expect(during.length).toBeGreaterThan(10);
    expect(during.every((t) => t.status === 503 || t.status === 502)).toBe(true);
    const after = timeline.filter((t) => t.at > startAt + 300);
    expect(after.length).toBeGreaterThan(10);
    expect(after.every((t) => t.status === 200)).toBe(true);
    const firstOk = timeline.find((t) => t.at > startAt && t.status === 200);
    recordFigures('faults-midrun', {
      requests: timeline.length,
      statuses: Object.fromEntries(timeline.reduce((m, t) => m.set(t.status, (m.get(t.status) ?? 0) + 1), new Map<number, number>())),
      downMs: Math.round(startAt - stopAt),
      recoveredAfterMs: firstOk ? Math.round(firstOk.at - startAt) : null,
    });
  }, 20_000);

  it.each([
    ['an image host that never answers', '/hang'],
    ['an image host that stalls mid-body', '/hang-body'],
    ['an image host that drips one byte every 100 ms', '/drip'],
  ])('GIVEN %s THEN 400 image-fetch-failed at the fetch deadline', async (_name, route) => {
    const answer = await client.post(PATHS.detectFaces, JSON.stringify({ image: { url: `${images.origin}${route}` } }));
    figures.push({ fault: `image host ${route}`, status: answer.status, ms: Math.round(answer.ms) });
    expect(answerProblems(answer, { expected: { status: 400, kinds: ['image-fetch-failed'] } })).toEqual([]);
    expect(answer.ms).toBeGreaterThanOrEqual(FETCH_TIMEOUT_MS - 50);
    expect(answer.ms).toBeLessThan(FETCH_TIMEOUT_MS + SLACK_MS);
  });

  it('GIVEN an integration timeout shorter than the backend deadline THEN 504 at the integration timeout', async () => {
    const short = await startGatewayInProcess({ API_KEYS: KEY, BACKEND_URL: backend.url, BACKEND_TIMEOUT_MS: '5000', INTEGRATION_TIMEOUT_MS: '400' });
    const shortClient = createClient(short.url, { authorization: `ApiKey ${KEY}` });
    backend.mode = 'stall';
    try {
      const answer = await shortClient.post(PATHS.detectFaces, CALLS[0][2]);
      figures.push({ fault: 'integration timeout 400 ms', status: answer.status, ms: Math.round(answer.ms) });
      expect(answerProblems(answer, { allow5xx: true, expected: { status: 504, kinds: ['gateway-timeout'] } })).toEqual([]);
      expect(answer.ms).toBeGreaterThanOrEqual(350);
      expect(answer.ms).toBeLessThan(400 + SLACK_MS);
    } finally {
      backend.mode = 'ok';
      await shortClient.close();
      await short.close();
    }
  });

  it('GET /health follows the backend: 503 while it is stopped, 200 when it is back', async () => {
    await backend.stop();
    try {
      expect((await client.get('/health')).status).toBe(503);
    } finally {
      await backend.start();
    }
    expect((await client.get('/health')).status).toBe(200);
  });
});

describe('JWKS endpoint faults', () => {
  let backend: FaultyBackend;
  let jwks: FaultyJwks;
  let gw: InProcessGateway;
  let client: Client;
  const detect = JSON.stringify({ image: { bytes: jpeg } });

  beforeAll(async () => {
    backend = await startFaultyBackend();
    jwks = await startFaultyJwks();
    // The identity provider is down before the gateway ever fetched its keys (nothing cached).
    await jwks.setMode('down');
    gw = await startGatewayInProcess({ API_KEYS: KEY, BACKEND_URL: backend.url, JWT_ISSUER: jwks.issuer, JWT_AUDIENCE: 'face-api' });
    client = createClient(gw.url, { connections: 8, hangMs: 10_000 });
  });
  afterAll(async () => {
    await client?.close();
    await gw?.close();
    await jwks?.close();
    await backend?.close();
  });

  async function both(): Promise<{ bearer: Answer; apiKey: Answer }> {
    const token = await jwks.sign({ sub: 'user-1' });
    const [bearer, apiKey] = await Promise.all([
      client.post(PATHS.detectFaces, detect, { authorization: `Bearer ${token}` }),
      client.post(PATHS.detectFaces, detect, { authorization: `ApiKey ${KEY}` }),
    ]);
    return { bearer, apiKey };
  }

  it.each([
    ['down (connection refused)', 'down', 1000],
    ['answering 503', 'error-503', 1000],
    ['answering 200 with a maintenance page instead of keys', 'garbage', 1000],
    ['hanging (3 s JWKS timeout)', 'hang', 3000 + 1500],
  ] as const)('GIVEN the JWKS endpoint is %s THEN Bearer calls get 503 with Retry-After and ApiKey calls are unaffected', async (_name, mode, within) => {
    await jwks.setMode(mode);
    const { bearer, apiKey } = await both();
    recordFigures('faults-jwks', { mode, bearerStatus: bearer.status, bearerMs: Math.round(bearer.ms), apiKeyStatus: apiKey.status, apiKeyMs: Math.round(apiKey.ms) });
    expect(answerProblems(bearer, { allow5xx: true, expected: { status: 503, kinds: ['service-unavailable'] } })).toEqual([]);
    expect(Number(bearer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(bearer.ms).toBeLessThan(within);
    expect(apiKey.status).toBe(200);
    expect(apiKey.ms).toBeLessThan(1000);
  }, 15_000);

  it('WHEN the JWKS endpoint is back THEN Bearer calls succeed; WHEN it fails again THEN cached keys keep them working', async () => {
    await jwks.setMode('ok');
    expect((await both()).bearer.status).toBe(200);
    await jwks.setMode('down');
    const { bearer, apiKey } = await both();
    expect(bearer.status).toBe(200);
    expect(apiKey.status).toBe(200);
    // A token signed with a key the cache does not hold needs the endpoint: 503, not 401.
    const rotated = await jwks.sign({ sub: 'user-2' }, 'k2');
    const answer = await client.post(PATHS.detectFaces, detect, { authorization: `Bearer ${rotated}` });
    expect(answer.status).toBe(503);
  });
});
