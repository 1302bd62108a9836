/**
 * Suite 1, below the body: request lines and headers that no HTTP library
 * would write, sent raw over a socket to the gateway, in this process and as
 * `npm start` runs it (a child process). Each gets a 4xx and the process lives on.
 *
 * Found here: a request target such as `//` or `http://[` made `new URL()` throw
 * in the gateway's log line, after the error answer, as an unhandled rejection:
 * one unauthenticated `GET //` killed `npm start` (fixed in local/gateway.ts).
 * And a client that hung up mid-body was logged as an unexpected error with
 * status 500 (an unauthenticated way to fill the error log); it is a 400 now.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS } from '../../lambda/shared/contract.js';
import { answerJson, startFakeBackend, type FakeBackend } from '../helpers/fake-backend.js';
import { recordFigures } from '../helpers/reliability/answers.js';
import { rawRequest } from '../helpers/reliability/client.js';
import { spawnGateway, startGatewayInProcess, type ChildGateway, type InProcessGateway } from '../helpers/reliability/gateway.js';

const KEY = 'raw-http-key-0123456789abcdef';
const auth = `Authorization: ApiKey ${KEY}\r\n`;
const post = (target: string, body: string, extra = '') =>
  `POST ${target} HTTP/1.1\r\nHost: t\r\n${auth}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`;

/**
 * [name, raw request, whether the answer must be a problem document, half-close after sending].
 * Requests the HTTP parser itself refuses get Node's bare 400/431 (no body): they never reach the gateway code.
 */
const CASES: ReadonlyArray<readonly [string, string, boolean, boolean?]> = [
  ['target //', 'GET // HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', true],
  ['target // on an API path', post('//v1/face-verification/detect-faces', '{}'), true],
  ['target http://[', 'GET http://[ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', true],
  ['target with userinfo and a broken IPv6 host', 'POST http://a:b@[::1/ HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', true],
  ['absolute-form target to another host', post('http://evil.test/v1/face-verification/detect-faces', '{}'), true],
  ['asterisk-form target', 'OPTIONS * HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', true],
  ['bad percent-encoding', 'GET /%zz%00 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', true],
  ['dot segments around an API path', post('/v1/face-verification/../face-verification/./detect-faces', '{}'), true],
  ['query string on an API path', post(`${PATHS.detectFaces}?image=1&__proto__[x]=1`, '{}'), true],
  ['wrong method on an API path', `DELETE ${PATHS.detectFaces} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`, true],
  ['no Host header, HTTP/1.0', `POST ${PATHS.detectFaces} HTTP/1.0\r\n${auth}Content-Length: 2\r\n\r\n{}`, true],
  ['Authorization with 8 KB of junk', `POST ${PATHS.detectFaces} HTTP/1.1\r\nHost: t\r\nAuthorization: ApiKey ${'k'.repeat(8000)}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`, true],
  ['Authorization: Bearer with a forged token', `POST ${PATHS.detectFaces} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`, true],
  ['two Authorization headers', `POST ${PATHS.detectFaces} HTTP/1.1\r\nHost: t\r\nAuthorization: ApiKey nope-nope-nope\r\n${auth}Content-Length: 2\r\nConnection: close\r\n\r\n{}`, true],
  ['Expect: 100-continue with 20 MB declared', `POST ${PATHS.detectFaces} HTTP/1.1\r\nHost: t\r\n${auth}Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 20000000\r\nConnection: close\r\n\r\n`, true],
  ['Content-Length larger than the body sent, then half-close', post(PATHS.detectFaces, '{"image":').replace(/Content-Length: \d+/, 'Content-Length: 100'), false, true],
  ['unauthenticated, body cut short, then half-close', `POST ${PATHS.compareFaceEmbeddings} HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{"embedding1":[`, false, true],
  ['Content-Length and Transfer-Encoding (smuggling)', `POST ${PATHS.detectFaces} HTTP/1.1\r\nHost: t\r\n${auth}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /health HTTP/1.1\r\n\r\n`, false],
  ['invalid chunk size', `POST ${PATHS.detectFaces} HTTP/1.1\r\nHost: t\r\n${auth}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`, false],
  ['unknown method', 'BREW /health HTTP/1.1\r\nHost: t\r\n\r\n', false],
  ['NUL in the target', 'GET /he\u0000alth HTTP/1.1\r\nHost: t\r\n\r\n', false],
  ['header name with a space', 'GET /health HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n', false],
  ['64 KB of headers', `GET /health HTTP/1.1\r\nHost: t\r\nX-Junk: ${'a'.repeat(65_536)}\r\n\r\n`, false],
  ['100 KB target', `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: t\r\n\r\n`, false],
  ['not HTTP at all', '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u01fc\u0003\u0003 TLS client hello on a plain port', false],
];

async function runCorpus(port: number): Promise<Array<{ name: string; status: number; problem: boolean; text: string }>> {
  const results = [];
  for (const [name, raw, , halfClose] of CASES) {
    const { status, text } = await rawRequest(port, raw, 3000, { halfClose });
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    let problem = false;
    try {
      problem = (JSON.parse(body) as { status?: number }).status === status;
    } catch {
      problem = false;
    }
    results.push({ name, status, problem, text });
  }
  return results;
}

function assertCorpus(results: Awaited<ReturnType<typeof runCorpus>>): void {
  for (const [i, [name, , needsProblem]] of CASES.entries()) {
    const result = results[i]!;
    expect.soft(result.status >= 400 && result.status < 500, `${name}: status ${result.status}\n${result.text.slice(0, 300)}`).toBe(true);
    if (needsProblem) {
      expect.soft(result.problem, `${name}: no problem body\n${result.text.slice(0, 300)}`).toBe(true);
      expect.soft(/content-type: application\/problem\+json/i.test(result.text), `${name}: content type`).toBe(true);
    }
  }
}

describe('raw HTTP oddities against the gateway', () => {
  let backend: FakeBackend;
  let gw: InProcessGateway;
  let child: ChildGateway;

  beforeAll(async () => {
    backend = await startFakeBackend(answerJson(200, { faces: [], unprocessedFaceCount: 0 }));
    gw = await startGatewayInProcess({ API_KEYS: KEY, BACKEND_URL: backend.url });
    child = await spawnGateway({ API_KEYS: KEY, BACKEND_URL: backend.url });
  });
  afterAll(async () => {
    await child?.stop();
    await gw?.close();
    await backend?.close();
  });

  it(`in process: ${CASES.length} malformed requests each get a 4xx, and nothing is logged as an unexpected error`, async () => {
    const results = await runCorpus(gw.port);
    assertCorpus(results);
    const errors = gw.logs.filter((line) => (JSON.parse(line) as { level: string }).level === 'error');
    expect(errors).toEqual([]);
    expect((await rawRequest(gw.port, 'GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')).status).toBe(200);
  });

  it('npm start (child process): the same requests leave it running and healthy', async () => {
    const results = await runCorpus(child.port);
    assertCorpus(results);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(child.exited(), child.stderr().slice(-2000)).toBeUndefined();
    expect((await rawRequest(child.port, 'GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')).status).toBe(200);
    recordFigures('hostile-http', {
      cases: CASES.length,
      refused: results.filter((r) => r.status >= 400 && r.status < 500).length,
      fiveXx: results.filter((r) => r.status >= 500).length,
      problemBodies: results.filter((r) => r.problem).length,
      processAlive: child.exited() === undefined,
    });
  });
});
