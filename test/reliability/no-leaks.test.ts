/**
 * Suite 5, no leaks: an end-to-end pass against `npm start` as users run it (a
 * child process, embedded engine, JWT issuer, image host), happy paths and
 * every kind of refusal, then a second gateway in front of a backend that
 * answers tracebacks and stalls. Everything the processes wrote to stdout and
 * stderr, and every error body, is searched for the keys, tokens, URL tokens,
 * image bytes (base64 windows) and embedding values the pass used, and for
 * anything shaped like them.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS } from '../../lambda/shared/contract.js';
import { sample } from '../helpers/images.js';
import { recordFigures } from '../helpers/reliability/answers.js';
import { createClient, type Answer } from '../helpers/reliability/client.js';
import { startFaultyBackend, startFaultyJwks, TRACEBACK, type FaultyBackend, type FaultyJwks } from '../helpers/reliability/fault-servers.js';
import { spawnGateway, type ChildGateway } from '../helpers/reliability/gateway.js';
import { findLeaks, type Secrets } from '../helpers/reliability/leaks.js';
import { startAttackerHost, type Listening } from '../helpers/reliability/ssrf.js';

const KEY_A = 'leak-suite-key-A-6f1d0c9b2e8a4d7c';
const KEY_B = 'leak-suite-key-B-93e4a1f05c7b2d68';
const USAGE_KEY = 'leak-suite-jwt-usage-key-5a0e7d3c';
const GUESSED_KEY = 'attacker-guessed-key-0f9e8d7c6b5a';
const URL_TOKEN = 'url-secret-token-7c2f9a41';
const CANARY = 'leak-canary-inside-an-embedding';

describe('no secret or biometric data in logs or error bodies (end to end)', () => {
  let jwks: FaultyJwks;
  let images: Listening;
  let backend: FaultyBackend;
  let gw: ChildGateway;
  let faulty: ChildGateway;
  const answers: Array<{ label: string; answer: Answer }> = [];
  const imagesSent: string[] = [];
  const embeddings: number[] = [];
  const tokens: string[] = [];

  beforeAll(async () => {
    jwks = await startFaultyJwks();
    images = await startAttackerHost(sample(1));
    backend = await startFaultyBackend();
    const common = { IMAGE_FETCH_ALLOW_CIDRS: '127.0.0.2/32', IMAGE_FETCH_TIMEOUT_MS: '1500', JWT_ISSUER: jwks.issuer, JWT_AUDIENCE: 'face-api', JWT_USAGE_KEY: USAGE_KEY };
    [gw, faulty] = await Promise.all([
      spawnGateway({ ...common, API_KEYS: `${KEY_A},${KEY_B}` }),
      spawnGateway({ ...common, API_KEYS: KEY_A, BACKEND_URL: backend.url, BACKEND_TIMEOUT_MS: '600' }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    await faulty?.stop();
    await Promise.all([jwks?.close(), images?.close(), backend?.close()]);
  });

  it('runs the pass: happy paths, refusals and upstream failures', async () => {
    const client = createClient(gw.url, { connections: 4, hangMs: 30_000 });
    const send = async (label: string, path: string, body: string, authorization: string | null = `ApiKey ${KEY_A}`) => {
      const answer = await client.post(path, body, { authorization });
      answers.push({ label, answer });
      return answer;
    };
    const b64 = (image: Buffer) => {
      const text = image.toString('base64');
      imagesSent.push(text);
      return text;
    };
    const token = await jwks.sign({ sub: 'app-user-42' });
    const expired = await jwks.sign({ sub: 'app-user-42' }, 'k1', Math.floor(Date.now() / 1000) - 60);
    const forged = `${Buffer.from('{"alg":"none","kid":"k1"}').toString('base64url')}.${Buffer.from('{"sub":"admin"}').toString('base64url')}.`;
    tokens.push(token, expired, forged);
    const png = await sharp(sample(2)).resize({ width: 640 }).png().toBuffer();
    const broken = Buffer.concat([sample(3).subarray(0, 3000), Buffer.alloc(4000, 0x41)]);

    // Happy paths
    expect((await send('detect, ApiKey A', PATHS.detectFaces, JSON.stringify({ image: { bytes: b64(sample(1)) }, maxFaceCount: 10 }))).status).toBe(200);
    const e1 = await send('embeddings, ApiKey B', PATHS.getFaceEmbeddings, JSON.stringify({ image: { bytes: b64(sample(2)) } }), `ApiKey ${KEY_B}`);
    const e2 = await send('embeddings of a PNG, Bearer', PATHS.getFaceEmbeddings, JSON.stringify({ image: { bytes: b64(png) } }), `Bearer ${token}`);
    const e3 = await send('embeddings by URL with a token, Bearer', PATHS.getFaceEmbeddings, JSON.stringify({ image: { url: `${images.origin}/face.jpg?token=${URL_TOKEN}` }, maxFaceCount: 3 }), `Bearer ${token}`);
    imagesSent.push(sample(1).toString('base64'));
    for (const answer of [e1, e2, e3]) {
      expect(answer.status, answer.text).toBe(200);
      for (const face of (JSON.parse(answer.text) as { faces: Array<{ embedding: number[] }> }).faces) embeddings.push(...face.embedding);
    }
    const [v1, v2] = [JSON.parse(e1.text).faces[0].embedding as number[], JSON.parse(e2.text).faces[0].embedding as number[]];
    expect((await send('compare', PATHS.compareFaceEmbeddings, JSON.stringify({ embedding1: v1, embedding2: v2 }))).status).toBe(200);

    // Refusals that carry biometric data or secrets in the request
    const refusals: Array<[string, string, string, string | null, number]> = [
      ['compare, a string inside an embedding', PATHS.compareFaceEmbeddings, JSON.stringify({ embedding1: [...v1.slice(0, 127), CANARY], embedding2: v2 }), `ApiKey ${KEY_A}`, 400],
      ['compare, lengths differ', PATHS.compareFaceEmbeddings, JSON.stringify({ embedding1: v1, embedding2: v2.slice(0, 100) }), `ApiKey ${KEY_A}`, 400],
      ['compare, 1e400 among real values', PATHS.compareFaceEmbeddings, JSON.stringify({ embedding1: v1, embedding2: v2 }).replace(/,/, ',1e400,'), `ApiKey ${KEY_A}`, 400],
      ['compare, JSON cut in the middle of the numbers', PATHS.compareFaceEmbeddings, JSON.stringify({ embedding1: v1, embedding2: v2 }).slice(0, 1500), `ApiKey ${KEY_A}`, 400],
      ['detect, a JPEG the engine cannot decode', PATHS.detectFaces, JSON.stringify({ image: { bytes: b64(broken) } }), `ApiKey ${KEY_A}`, 400],
      ['detect, data: URI prefix', PATHS.detectFaces, JSON.stringify({ image: { bytes: `data:image/jpeg;base64,${b64(sample(4))}` } }), `ApiKey ${KEY_A}`, 400],
      ['detect, base64 with line breaks', PATHS.detectFaces, JSON.stringify({ image: { bytes: b64(sample(5)).replace(/(.{76})/g, '$1\n') } }), `ApiKey ${KEY_A}`, 400],
      ['detect, JSON cut inside the base64', PATHS.detectFaces, JSON.stringify({ image: { bytes: b64(sample(6)) } }).slice(0, 20_000), `ApiKey ${KEY_A}`, 400],
      ['detect, 7 MB body of image base64', PATHS.detectFaces, JSON.stringify({ image: { bytes: b64(sample(1)).repeat(37) } }), `ApiKey ${KEY_A}`, 413],
      ['detect, both bytes and url', PATHS.detectFaces, JSON.stringify({ image: { bytes: b64(sample(2)), url: `${images.origin}/face.jpg?token=${URL_TOKEN}` } }), `ApiKey ${KEY_A}`, 400],
      ['url refused by policy, with a token', PATHS.detectFaces, JSON.stringify({ image: { url: `http://127.0.0.1:9/face.jpg?token=${URL_TOKEN}` } }), `ApiKey ${KEY_A}`, 400],
      ['url answering 500 with a traceback, with a token', PATHS.detectFaces, JSON.stringify({ image: { url: `${images.origin}/status?code=500&token=${URL_TOKEN}` } }), `ApiKey ${KEY_A}`, 400],
      ['url with user:password', PATHS.detectFaces, JSON.stringify({ image: { url: `http://user:${URL_TOKEN}@127.0.0.2:${images.port}/face.jpg` } }), `ApiKey ${KEY_A}`, 400],
      ['url longer than 2,048 characters with a token', PATHS.detectFaces, JSON.stringify({ image: { url: `${images.origin}/face.jpg?token=${URL_TOKEN}&pad=${'x'.repeat(2100)}` } }), `ApiKey ${KEY_A}`, 400],
      ['a guessed API key', PATHS.detectFaces, JSON.stringify({ image: { bytes: b64(sample(2)) } }), `ApiKey ${GUESSED_KEY}`, 401],
      ['an API key in the wrong scheme', PATHS.detectFaces, '{}', `Basic ${Buffer.from(`user:${KEY_A}`).toString('base64')}`, 401],
      ['an expired JWT', PATHS.getFaceEmbeddings, JSON.stringify({ image: { bytes: b64(sample(2)) } }), `Bearer ${expired}`, 401],
      ['a forged alg=none JWT', PATHS.getFaceEmbeddings, '{}', `Bearer ${forged}`, 401],
      ['no credentials, a face in the body', PATHS.getFaceEmbeddings, JSON.stringify({ image: { bytes: b64(sample(2)) } }), null, 401],
    ];
    for (const [label, path, body, authorization, status] of refusals) {
      const answer = await send(label, path, body, authorization);
      expect(answer.status, `${label}: ${answer.text.slice(0, 200)}`).toBe(status);
    }
    await client.close();

    // A backend that answers with a traceback, and one that stalls.
    const faultyClient = createClient(faulty.url, { connections: 2, hangMs: 10_000 });
    backend.mode = 'error-500';
    for (const path of [PATHS.detectFaces, PATHS.getFaceEmbeddings, PATHS.compareFaceEmbeddings]) {
      const body = path === PATHS.compareFaceEmbeddings ? JSON.stringify({ embedding1: v1, embedding2: v2 }) : JSON.stringify({ image: { bytes: b64(sample(2)) } });
      const answer = await faultyClient.post(path, body, { authorization: `ApiKey ${KEY_A}` });
      answers.push({ label: `backend traceback ${path}`, answer });
      expect(answer.status).toBe(502);
    }
    backend.mode = 'stall';
    const stalled = await faultyClient.post(PATHS.compareFaceEmbeddings, JSON.stringify({ embedding1: v1, embedding2: v2 }), { authorization: `Bearer ${token}` });
    answers.push({ label: 'backend stalls', answer: stalled });
    expect(stalled.status).toBe(504);
    backend.mode = 'ok';
    await faultyClient.close();
  }, 60_000);

  it('no key, token, URL token, image bytes or embedding value in any log line or error body', async () => {
    await gw.stop();
    await faulty.stop();
    const secrets: Secrets = {
      apiKeys: [KEY_A, KEY_B, USAGE_KEY, GUESSED_KEY],
      tokens,
      literals: [URL_TOKEN, CANARY, TRACEBACK.slice(0, 30), 'secret-internal-detail'],
      imagesBase64: imagesSent,
      embeddingValues: embeddings,
    };
    const logTexts = [
      { where: 'engine gateway stdout', text: gw.stdout(), generic: true },
      { where: 'engine gateway stderr', text: gw.stderr(), generic: true },
      { where: 'faulty-backend gateway stdout', text: faulty.stdout(), generic: true },
      { where: 'faulty-backend gateway stderr', text: faulty.stderr(), generic: true },
    ];
    const errorBodies = answers.filter(({ answer }) => answer.status !== 200).map(({ label, answer }) => ({ where: `error body: ${label}`, text: answer.text, generic: false }));
    const leaks = findLeaks([...logTexts, ...errorBodies], secrets);

    const logLines = [gw.stdout(), faulty.stdout()].flatMap((text) => text.split('\n').filter(Boolean));
    recordFigures('no-leaks', {
      requests: answers.length,
      errorBodies: errorBodies.length,
      logLines: logLines.length,
      stderrBytes: gw.stderr().length + faulty.stderr().length,
      imagesSent: imagesSent.length,
      embeddingValues: embeddings.length,
      secretsSearched: secrets.apiKeys.length + secrets.tokens.length + secrets.literals.length,
      leaks: leaks.length,
    });
    expect(leaks).toEqual([]);
    // The log is what the README promises: one JSON object per request line, nothing else on stdout.
    expect(answers.length).toBeGreaterThan(25);
    expect(logLines.every((line) => typeof JSON.parse(line) === 'object')).toBe(true);
    expect(logLines.filter((line) => (JSON.parse(line) as { msg: string }).msg === 'request').length).toBeGreaterThanOrEqual(answers.length);
    // Sanity: the search does find what it looks for (the secrets really were in the requests).
    expect(findLeaks([{ where: 'probe', text: `x ${KEY_A} ${imagesSent[0]!.slice(0, 2000)} ${JSON.stringify(embeddings[0])}`, generic: true }], secrets).map((l) => l.kind)).toEqual(
      expect.arrayContaining(['api key', 'image base64', 'embedding value', 'long base64 run', 'embedding-precision number']),
    );
  });
});
