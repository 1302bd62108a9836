/**
 * Issue 9, finding 5: one deadline for the whole request. The image download
 * and the backend call draw from one budget (the integration timeout or the
 * function's remaining time, less a margin); when it runs out the client gets
 * our 504 problem body before API Gateway's own timeout. Real servers on
 * 127.0.0.1: a slow image host, a stalling backend, and a stalling stand-in for
 * the Lambda Invoke endpoint (the SDK's abort has to reach a real socket, which
 * aws-sdk-client-mock cannot show).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBackendClient, type BackendClient } from '../../lambda/shared/backend-client.js';
import { PATHS } from '../../lambda/shared/contract.js';
import { answerMarginMs, MAX_ANSWER_MARGIN_MS, startRequestDeadline } from '../../lambda/shared/deadline.js';
import { createFaceProxyHandler } from '../../lambda/shared/face-proxy.js';
import { createImageFetcher } from '../../lambda/shared/image-fetch/index.js';
import { lambdaImageFetcher } from '../../lambda/shared/image-source.js';
import { LIMITS } from '../../lambda/shared/limits.js';
import { answerJson, startFakeBackend, type FakeBackend } from '../helpers/fake-backend.js';
import { postEvent } from '../helpers/events.js';
import { startTestGateway } from '../helpers/gateway.js';
import { sample } from '../helpers/images.js';
import { recordingLogger } from '../helpers/logs.js';

const jpeg = sample(1);
const INTEGRATION_MS = 2000;
/** 2000 ms less its 5 % margin. */
const BUDGET_MS = INTEGRATION_MS - answerMarginMs(INTEGRATION_MS);
/** Scheduling slack on a loaded 2-core machine (answers must not come before the budget, and not much after). */
const SLACK_MS = 400;
const detectAnswer = { faces: [], unprocessedFaceCount: 0 };

/** A loopback HTTP server whose handler the test chooses; it records when each connection closed. */
interface Host {
  readonly url: string;
  readonly closedAt: number[];
  handle(fn: (req: IncomingMessage, res: ServerResponse) => void): void;
  close(): Promise<void>;
}

async function startHost(): Promise<Host> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const closedAt: number[] = [];
  const server: Server = createServer((req, res) => {
    req.socket.once('close', () => closedAt.push(Date.now()));
    req.resume();
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    closedAt,
    handle: (fn) => {
      handler = fn;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers the JPEG after `ms`. */
const slowImage = (ms: number) => (_req: IncomingMessage, res: ServerResponse) => {
  const timer = setTimeout(() => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg), ms);
  res.once('close', () => clearTimeout(timer));
};
const stall = () => undefined;

const problemOf = (body: string) => JSON.parse(body) as { status: number; type: string; detail: string; requestId: string };

describe('request deadline arithmetic', () => {
  it('GIVEN only the integration timeout THEN the budget is 29 s less the 1 s answer margin', () => {
    const deadline = startRequestDeadline();
    deadline.dispose();
    expect(deadline.budgetMs).toBe(LIMITS.apiGatewayIntegrationTimeoutMs - MAX_ANSWER_MARGIN_MS);
    expect(deadline.budgetMs).toBe(28_000);
  });

  it('GIVEN a function with less time left than the integration timeout THEN the remaining time sets the budget', () => {
    const deadline = startRequestDeadline({ context: { getRemainingTimeInMillis: () => 10_000 } });
    deadline.dispose();
    expect(deadline.budgetMs).toBe(10_000 - 500);
  });

  it('GIVEN a short (test) integration timeout THEN the margin shrinks to 5 %', () => {
    const deadline = startRequestDeadline({ integrationTimeoutMs: 400 });
    deadline.dispose();
    expect(deadline.budgetMs).toBe(380);
  });

  it('GIVEN no time left THEN the budget is 0 and the signal aborts at once with a 504', async () => {
    const deadline = startRequestDeadline({ context: { getRemainingTimeInMillis: () => -5 } });
    expect(deadline.budgetMs).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.signal.reason).toMatchObject({ status: 504, kind: 'gateway-timeout' });
    deadline.dispose();
  });
});

describe('face proxy: one deadline for the download and the backend call', () => {
  let images: Host;
  let backend: FakeBackend;
  let client: BackendClient;
  const logger = recordingLogger();
  const fetcher = createImageFetcher({ allowCidrs: ['127.0.0.1/32'], totalTimeoutMs: 10_000 });

  beforeAll(async () => {
    images = await startHost();
    backend = await startFakeBackend();
    // The backend's own timeout is the deployed default (25 s): only the request budget can stop it sooner.
    client = createBackendClient({ baseUrl: backend.url });
  });
  afterEach(() => {
    backend.received.length = 0;
    images.closedAt.length = 0;
  });
  afterAll(async () => {
    await client.close();
    await backend.close();
    await images.close();
  });

  const handlerWith = (integrationTimeoutMs = INTEGRATION_MS) => createFaceProxyHandler({ backend: client, imageFetcher: fetcher, logger, integrationTimeoutMs });

  it('GIVEN a slow image host (700 ms) and a backend that stalls THEN our 504 problem at the budget, with the backend given only what was left', async () => {
    images.handle(slowImage(700));
    backend.behave(stall);
    const started = Date.now();
    const result = await handlerWith()(postEvent(PATHS.detectFaces, { image: { url: `${images.url}/face.jpg` } }));
    const elapsed = Date.now() - started;

    expect(result.statusCode).toBe(504);
    expect(result.headers?.['content-type']).toBe('application/problem+json');
    const problem = problemOf(result.body);
    expect(problem).toMatchObject({ status: 504, type: 'urn:face-verification:problem:gateway-timeout', requestId: 'req-test-1' });
    expect(problem.detail).toBe(`The request did not finish within its ${BUDGET_MS} ms time budget (waiting for the backend).`);
    // The old code waited the backend's full 25 s after the download: 700 ms + 25 s, past API Gateway's 29 s when scaled up.
    expect(elapsed).toBeGreaterThanOrEqual(BUDGET_MS - 20);
    expect(elapsed).toBeLessThan(INTEGRATION_MS + SLACK_MS);
    expect(backend.received).toHaveLength(1);
  });

  it('GIVEN an image host that stalls past the budget (fetch timeout 10 s) THEN 504 at the budget, the download is cut and the backend never called', async () => {
    images.handle(stall);
    const started = Date.now();
    const result = await handlerWith()(postEvent(PATHS.getFaceEmbeddings, { image: { url: `${images.url}/hang.jpg` } }));
    const elapsed = Date.now() - started;

    expect(result.statusCode).toBe(504);
    expect(problemOf(result.body).detail).toBe(`The request did not finish within its ${BUDGET_MS} ms time budget (downloading image.url).`);
    expect(elapsed).toBeGreaterThanOrEqual(BUDGET_MS - 20);
    expect(elapsed).toBeLessThan(INTEGRATION_MS + SLACK_MS);
    expect(backend.received).toHaveLength(0);
    // The deadline aborted the download: the image host saw its connection close then, not at the 10 s fetch timeout.
    await expect.poll(() => images.closedAt.length, { timeout: 1000 }).toBe(1);
    expect(images.closedAt[0]! - started).toBeLessThan(INTEGRATION_MS + SLACK_MS);
  });

  it('GIVEN the function has less time left than the integration timeout THEN the budget follows the context', async () => {
    images.handle(slowImage(100));
    backend.behave(stall);
    const started = Date.now();
    const result = await handlerWith(LIMITS.apiGatewayIntegrationTimeoutMs)(postEvent(PATHS.detectFaces, { image: { url: `${images.url}/face.jpg` } }), {
      getRemainingTimeInMillis: () => 1200,
    });
    const elapsed = Date.now() - started;
    expect(result.statusCode).toBe(504);
    expect(problemOf(result.body).detail).toBe('The request did not finish within its 1140 ms time budget (waiting for the backend).');
    expect(elapsed).toBeGreaterThanOrEqual(1120);
    expect(elapsed).toBeLessThan(1200 + SLACK_MS);
  });

  it('GIVEN a slow download and a slow backend that both fit the budget THEN 200', async () => {
    images.handle(slowImage(400));
    backend.behave((_req, _body, res) => setTimeout(() => answerJson(200, detectAnswer)(_req, _body, res), 400));
    const result = await handlerWith()(postEvent(PATHS.detectFaces, { image: { url: `${images.url}/face.jpg` } }));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toEqual(detectAnswer);
    expect(backend.received[0]!.body).toEqual({ image: { bytes: jpeg.toString('base64') }, maxFaceCount: 1 });
  });

  it('GIVEN image.bytes and a backend slower than the budget THEN 504 from our handler, not the backend client\'s 25 s', async () => {
    backend.behave(stall);
    const started = Date.now();
    const result = await handlerWith(800)(postEvent(PATHS.detectFaces, { image: { bytes: jpeg.toString('base64') } }));
    expect(result.statusCode).toBe(504);
    expect(problemOf(result.body).detail).toMatch(/within its 760 ms time budget \(waiting for the backend\)/);
    expect(Date.now() - started).toBeLessThan(800 + SLACK_MS);
  });
});

describe('face proxy in AWS shape: the fetch-image invoke draws from the same deadline', () => {
  let lambdaEndpoint: Host;
  let backend: FakeBackend;
  let client: BackendClient;
  let sdk: LambdaClient;

  beforeAll(async () => {
    lambdaEndpoint = await startHost();
    backend = await startFakeBackend(answerJson(200, detectAnswer));
    client = createBackendClient({ baseUrl: backend.url });
    // A loopback stand-in for the Lambda Invoke API; static dummy credentials, so the SDK asks no credential source.
    sdk = new LambdaClient({
      endpoint: lambdaEndpoint.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-test-only' },
      maxAttempts: 3,
    });
  });
  afterAll(async () => {
    sdk.destroy();
    await client.close();
    await backend.close();
    await lambdaEndpoint.close();
  });

  const handler = () =>
    createFaceProxyHandler({ backend: client, imageFetcher: lambdaImageFetcher('face-fetch-image', sdk), logger: recordingLogger(), integrationTimeoutMs: INTEGRATION_MS });

  it('GIVEN an invoke that never answers THEN our 504 at the budget and the SDK request is aborted', async () => {
    const invocations: string[] = [];
    lambdaEndpoint.handle((req) => {
      invocations.push(`${req.method} ${req.url}`);
    });
    const started = Date.now();
    const result = await handler()(postEvent(PATHS.detectFaces, { image: { url: 'https://images.example/face.jpg' } }));
    const elapsed = Date.now() - started;
    expect(result.statusCode).toBe(504);
    expect(problemOf(result.body).detail).toBe(`The request did not finish within its ${BUDGET_MS} ms time budget (downloading image.url).`);
    expect(elapsed).toBeGreaterThanOrEqual(BUDGET_MS - 20);
    expect(elapsed).toBeLessThan(INTEGRATION_MS + SLACK_MS);
    expect(invocations).toEqual(['POST /2015-03-31/functions/face-fetch-image/invocations']);
    // abortSignal reached the socket: it closed at the deadline, not at the SDK's socket timeout.
    await expect.poll(() => lambdaEndpoint.closedAt.length, { timeout: 1000 }).toBe(1);
    expect(lambdaEndpoint.closedAt[0]! - started).toBeLessThan(INTEGRATION_MS + SLACK_MS);
    expect(backend.received).toHaveLength(0);
  });

  it('GIVEN an invoke that answers the image in time THEN the backend gets the bytes and the client 200', async () => {
    lambdaEndpoint.handle((_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, bytesBase64: jpeg.toString('base64'), contentLength: jpeg.length }));
      }, 300);
    });
    const result = await handler()(postEvent(PATHS.detectFaces, { image: { url: 'https://images.example/face.jpg' } }));
    expect(result.statusCode).toBe(200);
    expect(backend.received.at(-1)!.body).toEqual({ image: { bytes: jpeg.toString('base64') }, maxFaceCount: 1 });
  });
});

describe('local gateway: the same deadline from INTEGRATION_TIMEOUT_MS', () => {
  it('GIVEN a slow image host and a stalling backend THEN the client gets the handler\'s 504 problem, before the gateway\'s own timeout', async () => {
    const images = await startHost();
    const backend = await startFakeBackend(stall);
    const gateway = await startTestGateway({
      API_KEYS: 'deadline-test-key-0123456789',
      BACKEND_URL: backend.url,
      INTEGRATION_TIMEOUT_MS: String(INTEGRATION_MS),
      IMAGE_FETCH_ALLOW_CIDRS: '127.0.0.1/32',
      COMPARE_MODE: 'forward',
    });
    try {
      images.handle(slowImage(700));
      const started = Date.now();
      const answer = await gateway.post(PATHS.detectFaces, { image: { url: `${images.url}/face.jpg` } });
      const elapsed = Date.now() - started;
      expect(answer.status).toBe(504);
      expect(answer.headers.get('content-type')).toBe('application/problem+json');
      // The handler's problem (it names the budget), not the gateway's "integration did not answer" fallback.
      expect(answer.body.detail).toBe(`The request did not finish within its ${BUDGET_MS} ms time budget (waiting for the backend).`);
      expect(elapsed).toBeGreaterThanOrEqual(BUDGET_MS - 20);
      expect(elapsed).toBeLessThan(INTEGRATION_MS + SLACK_MS);
      expect(backend.received).toHaveLength(1);
    } finally {
      await gateway.close();
      await backend.close();
      await images.close();
    }
  });
});
