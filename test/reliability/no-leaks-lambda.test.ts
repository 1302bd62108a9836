/**
 * Suite 5, the AWS side: the Lambda entry handlers themselves (authorizer,
 * proxy, compare, fetch-image, verify-faces), with their Powertools loggers at DEBUG, driven
 * by API Gateway events that carry keys, tokens, images and embeddings, in front
 * of a scriptable backend that also answers tracebacks and stalls. Every byte the
 * handlers write to stdout/stderr (what CloudWatch Logs would hold) and every
 * error body is searched for them. Only AWS APIs are mocked: Secrets Manager,
 * and Lambda Invoke, which runs the real fetch-image handler in-process.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayAuthorizerResult, APIGatewayProxyResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PATHS } from '../../lambda/shared/contract.js';
import type { ApiEvent } from '../../lambda/shared/http.js';
import type { FetchImageEvent, FetchImageResult } from '../../lambda/shared/image-fetch/index.js';
import { authorizerEvent } from '../../local/events.js';
import { postEvent } from '../helpers/events.js';
import { sample } from '../helpers/images.js';
import { recordFigures } from '../helpers/reliability/answers.js';
import { startFaultyBackend, startFaultyJwks, TRACEBACK, type FaultyBackend, type FaultyJwks } from '../helpers/reliability/fault-servers.js';
import { findLeaks } from '../helpers/reliability/leaks.js';
import { startAttackerHost, type Listening } from '../helpers/reliability/ssrf.js';

const USAGE_KEY = 'lambda-leak-usage-key-8d2c6e4a';
const CLIENT_KEY = 'lambda-leak-client-key-1b7f3e9d';
const URL_TOKEN = 'lambda-url-token-4e8a1c';
const secretsManager = mockClient(SecretsManagerClient);
const lambdaApi = mockClient(LambdaClient);

type ProxyHandler = (event: ApiEvent) => Promise<APIGatewayProxyResult>;

describe('Lambda handlers log nothing secret or biometric', () => {
  let backend: FaultyBackend;
  let jwks: FaultyJwks;
  let images: Listening;
  let authorize: (event: APIGatewayRequestAuthorizerEvent) => Promise<APIGatewayAuthorizerResult>;
  let proxy: ProxyHandler;
  let compare: ProxyHandler;
  let verifyFaces: ProxyHandler;
  let fetchImage: (event: FetchImageEvent) => Promise<FetchImageResult>;
  const written: string[] = [];
  const errorBodies: Array<{ where: string; text: string; generic: boolean }> = [];
  const originalStdout = process.stdout.write.bind(process.stdout);
  const originalStderr = process.stderr.write.bind(process.stderr);
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    backend = await startFaultyBackend();
    jwks = await startFaultyJwks();
    images = await startAttackerHost(sample(1));
    Object.assign(process.env, {
      AWS_REGION: 'eu-west-1',
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
      BACKEND_URL: backend.url,
      BACKEND_TIMEOUT_MS: '600',
      COMPARE_MODE: 'forward',
      JWT_ISSUER: jwks.issuer,
      JWT_AUDIENCE: 'face-api',
      JWT_USAGE_KEY_SECRET_ID: 'face-verification/test/jwt-usage-key',
      IMAGE_FETCH_ALLOW_CIDRS: '127.0.0.2/32',
      IMAGE_FETCH_TIMEOUT_MS: '1500',
      FETCH_IMAGE_FUNCTION_NAME: 'face-verification-test-fetch-image',
    });
    // Capture before the handlers build their loggers: Powertools writes through a Console bound to these streams.
    // Kept, not echoed: the test output stays readable and the lines are searched below.
    const capture = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof process.stdout.write;
    process.stdout.write = capture;
    process.stderr.write = capture;
    authorize = (await import('../../lambda/authorizer.js')).handler;
    proxy = (await import('../../lambda/proxy.js')).handler;
    compare = (await import('../../lambda/compare.js')).handler;
    verifyFaces = (await import('../../lambda/verify-faces.js')).handler;
    fetchImage = (await import('../../lambda/fetch-image.js')).handler;
  });

  beforeEach(() => {
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: USAGE_KEY });
    lambdaApi.reset();
    // The proxy invokes fetch-image synchronously; the mock hands the payload to the real handler.
    lambdaApi.on(InvokeCommand).callsFake(async (input: { Payload: Uint8Array }) => {
      const result = await fetchImage(JSON.parse(Buffer.from(input.Payload).toString('utf8')) as FetchImageEvent);
      return { StatusCode: 200, Payload: new Uint8Array(Buffer.from(JSON.stringify(result))) };
    });
  });

  afterAll(async () => {
    process.stdout.write = originalStdout;
    process.stderr.write = originalStderr;
    process.env = savedEnv;
    await Promise.all([backend?.close(), jwks?.close(), images?.close()]);
  });

  it('drives every handler through happy paths, refusals and upstream failures, then finds no leak', async () => {
    const token = await jwks.sign({ sub: 'lambda-user' });
    const expired = await jwks.sign({ sub: 'lambda-user' }, 'k1', Math.floor(Date.now() / 1000) - 60);
    const imagesSent = [sample(1), sample(2)].map((image) => image.toString('base64'));
    const embedding = Array.from({ length: 128 }, (_, i) => Math.cos(i) / 8); // what the fake backend answers
    const embedding2 = embedding.map((v, i) => v + Math.sin(i) / 1000);
    const headers = (authorization: string) => ({ authorization, 'content-type': 'application/json' });

    // Authorizer: allowed and refused credentials, including while the JWKS endpoint is down.
    for (const authorization of [`ApiKey ${CLIENT_KEY}`, `Bearer ${token}`]) {
      const result = await authorize(authorizerEvent('POST', PATHS.detectFaces, headers(authorization), 'req-auth-ok'));
      expect(result.policyDocument.Statement[0]!.Effect).toBe('Allow');
    }
    for (const authorization of [`Bearer ${expired}`, `Basic ${Buffer.from(`u:${CLIENT_KEY}`).toString('base64')}`, `Bearer ${token}x`]) {
      await expect(authorize(authorizerEvent('POST', PATHS.detectFaces, headers(authorization), 'req-auth-no'))).rejects.toThrow('Unauthorized');
    }
    await jwks.setMode('error-503');
    const rotated = await jwks.sign({ sub: 'lambda-user' }, 'k2');
    await expect(authorize(authorizerEvent('POST', PATHS.detectFaces, headers(`Bearer ${rotated}`), 'req-auth-jwks'))).rejects.toThrow();
    await jwks.setMode('ok');

    // Proxy and compare: 200s, client errors and every upstream failure.
    const calls: Array<[string, ProxyHandler, string, unknown, number]> = [
      ['detect', proxy, PATHS.detectFaces, { image: { bytes: imagesSent[0] }, maxFaceCount: 3 }, 200],
      ['embeddings', proxy, PATHS.getFaceEmbeddings, { image: { bytes: imagesSent[1] } }, 200],
      ['embeddings by URL with a token', proxy, PATHS.getFaceEmbeddings, { image: { url: `${images.origin}/face.jpg?token=${URL_TOKEN}` } }, 200],
      ['compare', compare, PATHS.compareFaceEmbeddings, { embedding1: embedding, embedding2 }, 200],
      ['detect, line-wrapped base64', proxy, PATHS.detectFaces, { image: { bytes: imagesSent[1]!.replace(/(.{76})/g, '$1\n') } }, 400],
      ['detect, refused URL with a token', proxy, PATHS.detectFaces, { image: { url: `http://169.254.169.254/latest/?token=${URL_TOKEN}` } }, 400],
      ['detect, URL answering a traceback', proxy, PATHS.detectFaces, { image: { url: `${images.origin}/status?code=500&token=${URL_TOKEN}` } }, 400],
      ['compare, a string among the numbers', compare, PATHS.compareFaceEmbeddings, { embedding1: [...embedding.slice(0, 127), 'x'], embedding2 }, 400],
      ['compare, lengths differ', compare, PATHS.compareFaceEmbeddings, { embedding1: embedding, embedding2: embedding2.slice(1) }, 400],
      // The batch extension is a second route of the same Lambda entry.
      ['compare batch', compare, PATHS.compareFaceEmbeddingsBatch, { embedding, embeddings: [embedding2, embedding] }, 200],
      ['compare batch, a candidate of another length', compare, PATHS.compareFaceEmbeddingsBatch, { embedding, embeddings: [embedding2, embedding2.slice(1)] }, 400],
      // verify-faces (extension): it holds both embeddings in memory and must log and answer neither.
      ['verify', verifyFaces, PATHS.verifyFaces, { image1: { bytes: imagesSent[0] }, image2: { bytes: imagesSent[1] } }, 200],
      ['verify, image2 by URL with a token', verifyFaces, PATHS.verifyFaces, { image1: { bytes: imagesSent[0] }, image2: { url: `${images.origin}/face.jpg?token=${URL_TOKEN}` } }, 200],
      ['verify, refused image1 URL with a token', verifyFaces, PATHS.verifyFaces, { image1: { url: `http://169.254.169.254/latest/?token=${URL_TOKEN}` }, image2: { bytes: imagesSent[1] } }, 400],
      ['verify, line-wrapped base64 in both', verifyFaces, PATHS.verifyFaces, { image1: { bytes: imagesSent[0]!.replace(/(.{76})/g, '$1\n') }, image2: { bytes: imagesSent[1]!.replace(/(.{76})/g, '$1\n') } }, 400],
    ];
    const run = async (label: string, handler: ProxyHandler, path: string, body: unknown, status: number) => {
      const result = await handler(postEvent(path, body, headers(`ApiKey ${CLIENT_KEY}`)));
      expect(result.statusCode, `${label}: ${result.body.slice(0, 200)}`).toBe(status);
      if (result.statusCode !== 200) errorBodies.push({ where: `error body: ${label}`, text: result.body, generic: false });
    };
    for (const call of calls) await run(...call);
    for (const [mode, status] of [['error-500', 502], ['html-502', 502], ['stall', 504], ['overloaded-503', 503]] as const) {
      backend.mode = mode;
      await run(`detect, backend ${mode}`, proxy, PATHS.detectFaces, { image: { bytes: imagesSent[0] } }, status);
      await run(`compare, backend ${mode}`, compare, PATHS.compareFaceEmbeddings, { embedding1: embedding, embedding2 }, status);
      await run(`compare batch, backend ${mode}`, compare, PATHS.compareFaceEmbeddingsBatch, { embedding, embeddings: [embedding2, embedding] }, status);
      await run(`verify, backend ${mode}`, verifyFaces, PATHS.verifyFaces, { image1: { bytes: imagesSent[0] }, image2: { bytes: imagesSent[1] } }, status);
    }
    backend.mode = 'ok';

    // 3 from the proxy, 2 from verify-faces (its image2 and image1 URLs).
    expect(lambdaApi.commandCalls(InvokeCommand).length).toBe(5);
    // fetch-image directly, with URLs the proxy would not have sent.
    for (const url of [`${images.origin}/face.jpg?token=${URL_TOKEN}`, `http://10.0.0.1/x.jpg?token=${URL_TOKEN}`, `${images.origin}/html?token=${URL_TOKEN}`, `http://u:${URL_TOKEN}@images.test/`]) {
      const result = await fetchImage({ url });
      if (!result.ok) errorBodies.push({ where: `fetch-image problem: ${url.slice(0, 40)}`, text: JSON.stringify(result.problem), generic: false });
    }

    const logs = written.join('');
    const leaks = findLeaks(
      [{ where: 'handler stdout/stderr', text: logs, generic: true }, ...errorBodies],
      {
        apiKeys: [CLIENT_KEY, USAGE_KEY],
        tokens: [token, expired, rotated],
        literals: [URL_TOKEN, TRACEBACK.slice(0, 30), 'secret-internal-detail', 'internal-alb'],
        imagesBase64: imagesSent,
        embeddingValues: [...embedding, ...embedding2],
      },
    );
    const lines = logs.split('\n').filter((line) => line.startsWith('{'));
    recordFigures('no-leaks-lambda', { logLines: lines.length, errorBodies: errorBodies.length, leaks: leaks.length });
    expect(leaks).toEqual([]);
    // The handlers did log (DEBUG, warnings on upstream failures): the search had something to search.
    expect(lines.length).toBeGreaterThan(10);
    expect(lines.some((line) => line.includes('"upstream problem"'))).toBe(true);
  }, 60_000);
});
