/**
 * Servers that fail on command, for the fault suite: a backend that can be
 * stopped and started again on the same port and switched between failure
 * modes, and a JWKS endpoint that can answer, refuse, hang or vanish.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { PATHS } from '../../../lambda/shared/contract.js';

/** How the backend answers. */
export type BackendMode =
  | 'ok'
  | 'stall' // reads the request, never answers
  | 'garbage' // 200 with a body that is not JSON
  | 'off-contract' // 200 with JSON that does not match the response schema
  | 'error-500' // 500 with a Python traceback (what deepface/InsightFace-REST answer)
  | 'html-502' // a load balancer's HTML 502 page
  | 'overloaded-503' // 503 with Retry-After: 7
  | 'throttled-429'
  | 'auth-401' // the activation key was refused (our configuration, not the client's credentials)
  | 'reset' // closes the connection mid-answer
  | 'drip' // sends headers and then one byte every 200 ms
  | 'huge'; // a 9 MiB body (the client caps answers at 8 MiB)

export const TRACEBACK = 'Traceback (most recent call last):\n  File "/app/api.py", line 42, in represent\nValueError: secret-internal-detail /models/arcface_weights.h5';

const FACE = { confidence: 0.99, boundingBox: { x: 5, y: 6, width: 70, height: 80 } };
const OK_ANSWERS: Record<string, unknown> = {
  [PATHS.detectFaces]: { faces: [FACE], unprocessedFaceCount: 0 },
  [PATHS.getFaceEmbeddings]: { faces: [{ face: FACE, embedding: Array.from({ length: 128 }, (_, i) => Math.cos(i) / 8) }], unprocessedFaceCount: 0 },
  [PATHS.compareFaceEmbeddings]: { similarity: 42 },
};

export interface FaultyBackend {
  readonly url: string;
  readonly port: number;
  mode: BackendMode;
  /** Requests received while up. */
  received(): number;
  /** Stops listening and cuts every open connection (a crashed container). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultyBackend(): Promise<FaultyBackend> {
  let mode: BackendMode = 'ok';
  let count = 0;
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const answer = (path: string, res: ServerResponse) => {
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    switch (mode) {
      case 'ok': return json(200, OK_ANSWERS[path] ?? {});
      case 'stall': return undefined;
      case 'garbage': return res.writeHead(200, { 'content-type': 'application/json' }).end('{"faces": [ {"confid');
      case 'off-contract': return json(200, { faces: 'many', similarity: 'high' });
      case 'error-500': return res.writeHead(500, { 'content-type': 'text/plain' }).end(TRACEBACK);
      case 'html-502': return res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body><h1>502 Bad Gateway</h1>internal-alb-123.eu-west-1.elb</body></html>');
      case 'overloaded-503': return json(503, { title: 'busy' }, { 'retry-after': '7' });
      case 'throttled-429': return json(429, { title: 'slow down' });
      case 'auth-401': return json(401, { title: 'activation key rejected' });
      case 'reset': {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"faces":[');
        return setTimeout(() => res.socket?.destroy(), 20);
      }
      case 'drip': {
        res.writeHead(200, { 'content-type': 'application/json' });
        const timer = setInterval(() => res.write(' '), 200);
        timers.add(timer);
        return res.on('close', () => {
          clearInterval(timer);
          timers.delete(timer);
        });
      }
      case 'huge': return res.writeHead(200, { 'content-type': 'application/json' }).end(`{"faces":[],"pad":"${'x'.repeat(9 * 1024 * 1024)}"}`);
    }
  };

  let port = 0;
  const start = async () => {
    server = createServer((req, res) => {
      count++;
      req.resume();
      req.on('end', () => answer(req.url ?? '', res));
    });
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as AddressInfo).port;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    for (const timer of timers) clearInterval(timer);
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await start();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get mode() {
      return mode;
    },
    set mode(next: BackendMode) {
      mode = next;
    },
    received: () => count,
    stop,
    start,
    close: stop,
  };
}

/** How the JWKS endpoint behaves. */
export type JwksMode = 'ok' | 'error-503' | 'garbage' | 'hang' | 'down';

export interface FaultyJwks {
  readonly issuer: string;
  readonly mode: JwksMode;
  /** Switches behaviour; `down` stops listening (connection refused), leaving `down` listens again on the same port. */
  setMode(next: JwksMode): Promise<void>;
  /** Signs an RS256 token for audience `face-api` with this issuer's key; `expiresAt` in epoch seconds. @default 10 minutes */
  sign(claims: Record<string, unknown>, kid?: string, expiresAt?: number): Promise<string>;
  requests(): number;
  close(): Promise<void>;
}

export async function startFaultyJwks(): Promise<FaultyJwks> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  let mode: JwksMode = 'ok';
  let count = 0;
  let server: Server | undefined;
  let port = 0;
  const sockets = new Set<Socket>();
  const listen = async () => {
    server = createServer((_req, res) => {
      count++;
      if (mode === 'hang') return;
      if (mode === 'error-503') return void res.writeHead(503).end();
      // A 200 that is not a key set: a captive portal, a misrouted proxy, a maintenance page.
      if (mode === 'garbage') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;
  };
  const unlisten = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  const issuer = `http://127.0.0.1:${port}`;
  return {
    issuer,
    get mode() {
      return mode;
    },
    async setMode(next) {
      const wasDown = mode === 'down';
      mode = next;
      if (next === 'down') await unlisten();
      else if (wasDown) await listen();
    },
    sign: (claims, kid = 'k1', expiresAt) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).setIssuer(issuer).setAudience('face-api').setIssuedAt().setExpirationTime(expiresAt ?? '10m').sign(privateKey),
    requests: () => count,
    close: unlisten,
  };
}
