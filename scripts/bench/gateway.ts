/**
 * Gateway overhead: the same 1 MB-image detect-faces request sent straight to a
 * trivial backend, through a minimal pass-through proxy (the floor of any extra
 * HTTP hop), and through the local gateway (auth, validation, bomb check, forward).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { Agent, request } from 'undici';
import { PATHS } from '../../lambda/shared/contract.js';
import { gatewayEnvFrom } from '../../local/config.js';
import { startGateway } from '../../local/gateway.js';
import { fmt, isMain, percentile, table } from './stats.js';

const ANSWER = JSON.stringify({ faces: [{ confidence: 0.99, boundingBox: { x: 10, y: 10, width: 100, height: 120 } }], unprocessedFaceCount: 0 });

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A JPEG of about 1 MB (noise compresses badly, so the size is real). */
async function oneMegabyteJpeg(): Promise<Buffer> {
  const side = 1100;
  const raw = Buffer.alloc(side * side * 3);
  let s = 7;
  for (let i = 0; i < raw.length; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    raw[i] = s >>> 23;
  }
  return sharp(raw, { raw: { width: side, height: side, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
}

export async function runGatewayBench(): Promise<string> {
  const jpeg = await oneMegabyteJpeg();
  const body = JSON.stringify({ image: { bytes: jpeg.toString('base64') }, maxFaceCount: 1 });

  const backend = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(ANSWER));
  });
  const backendUrl = await listen(backend);

  // Minimal correct pass-through: stream the request to the backend, stream the answer back.
  const passAgent = new Agent({ keepAliveTimeout: 30_000 });
  const passthrough = createServer(async (req, res) => {
    const upstream = await request(`${backendUrl}${req.url}`, { method: 'POST', body: req, headers: { 'content-type': 'application/json' }, dispatcher: passAgent });
    res.writeHead(upstream.statusCode, { 'content-type': 'application/json' });
    for await (const chunk of upstream.body) res.write(chunk);
    res.end();
  });
  const passUrl = await listen(passthrough);

  // Minimal correct *validating* proxy: what any gateway that checks the body before forwarding must do at least
  // (read the body, parse the JSON, check the base64 image, forward it). No auth, no dimensions, no problem bodies.
  const validating = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const parsed = JSON.parse(text) as { image?: { bytes?: string } };
      const b64 = parsed.image?.bytes ?? '';
      if (Buffer.from(b64, 'base64').toString('base64') !== b64) {
        res.writeHead(400).end();
        return;
      }
      const upstream = await request(`${backendUrl}${req.url}`, { method: 'POST', body: text, headers: { 'content-type': 'application/json' }, dispatcher: passAgent });
      const answer = await upstream.body.text();
      res.writeHead(upstream.statusCode, { 'content-type': 'application/json' }).end(answer);
    });
  });
  const validatingUrl = await listen(validating);

  const gateway = await startGateway(gatewayEnvFrom({ PORT: '0', API_KEYS: 'bench-key-0123456789abcdef', BACKEND_URL: backendUrl }), { log: () => undefined });

  const client = new Agent({ keepAliveTimeout: 30_000, connections: 1 });
  async function once(base: string): Promise<number> {
    const t = performance.now();
    const res = await request(`${base}${PATHS.detectFaces}`, {
      method: 'POST', dispatcher: client, body,
      headers: { 'content-type': 'application/json', authorization: 'ApiKey bench-key-0123456789abcdef' },
    });
    const text = await res.body.text();
    if (res.statusCode !== 200 || text.length < 10) throw new Error(`unexpected ${res.statusCode}`);
    return performance.now() - t;
  }
  const targets = { direct: backendUrl, passthrough: passUrl, validating: validatingUrl, gateway: gateway.url } as const;
  const samples: Record<keyof typeof targets, number[]> = { direct: [], passthrough: [], validating: [], gateway: [] };
  for (let i = 0; i < 30; i++) for (const base of Object.values(targets)) await once(base); // warm-up
  // Interleave the three so noise hits each alike.
  for (let i = 0; i < 300; i++) for (const [name, base] of Object.entries(targets)) samples[name as keyof typeof targets].push(await once(base));

  await gateway.close();
  await client.close();
  await passAgent.close();
  backend.close();
  passthrough.close();
  validating.close();

  const stats = Object.fromEntries(
    Object.entries(samples).map(([name, values]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return [name, { p50: percentile(sorted, 50), p99: percentile(sorted, 99) }];
    }),
  ) as Record<keyof typeof targets, { p50: number; p99: number }>;
  const added = stats.gateway.p50 - stats.direct.p50;
  const floor = stats.passthrough.p50 - stats.direct.p50;
  const validatingFloor = stats.validating.p50 - stats.direct.p50;
  return [
    '### Gateway overhead (1 MB image, detect-faces)',
    '',
    `Image: ${jpeg.length} bytes JPEG, request body ${body.length} bytes. 300 requests per path, interleaved, one keep-alive connection.`,
    '',
    table(['path', 'p50 ms', 'p99 ms', 'added at p50 vs direct'], [
      ['client -> trivial backend (direct)', fmt(stats.direct.p50), fmt(stats.direct.p99), '-'],
      ['client -> minimal pass-through proxy -> backend (floor of one extra hop)', fmt(stats.passthrough.p50), fmt(stats.passthrough.p99), fmt(floor)],
      ['client -> minimal validating proxy (read, JSON.parse, base64 check, forward) -> backend', fmt(stats.validating.p50), fmt(stats.validating.p99), fmt(validatingFloor)],
      ['client -> local gateway (auth, validate, bomb check, forward) -> backend', fmt(stats.gateway.p50), fmt(stats.gateway.p99), fmt(added)],
    ]),
    '',
    `Target: at most 1 ms added at p50. Result: **${fmt(added)} ms** (${added <= 1 ? 'met' : 'NOT met'}). ` +
      `Floors measured in the same run: a bare pass-through hop adds ${fmt(floor)} ms; the minimal validating proxy adds ${fmt(validatingFloor)} ms, ` +
      `so the gateway costs ${fmt(added - validatingFloor)} ms more than the least any validating implementation does.`,
  ].join('\n');
}

if (isMain(import.meta.url)) runGatewayBench().then((md) => console.log(md), (e) => { console.error(e); process.exit(1); });
