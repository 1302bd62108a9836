/**
 * A scriptable backend on 127.0.0.1 that speaks the container's HTTP contract:
 * tests choose per request whether it answers, stalls, fails or talks garbage.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Behaviour = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;

export interface FakeBackend {
  readonly url: string;
  behave(behaviour: Behaviour): void;
  readonly received: Array<{ path: string; body: unknown; headers: IncomingMessage['headers'] }>;
  close(): Promise<void>;
}

export const answerJson = (status: number, body: unknown): Behaviour => (_req, _body, res) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

export async function startFakeBackend(initial: Behaviour = answerJson(200, { faces: [], unprocessedFaceCount: 0 })): Promise<FakeBackend> {
  let behaviour = initial;
  const received: FakeBackend['received'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      received.push({ path: req.url ?? '', body: parsed, headers: req.headers });
      behaviour(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    behave: (next) => {
      behaviour = next;
    },
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
