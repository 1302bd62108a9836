/**
 * verify-faces (extension) latency against one get-face-embeddings call on the same image, side by
 * side through the same local gateway (issue 11: target at most 1.3x). Two backends:
 * - the embedded engine (the real work; the ratio shows how much of the two inferences overlaps,
 *   which depends on how many inferences the engine runs at once);
 * - a fake backend with a fixed 150 ms latency per get-face-embeddings call (only the gateway's
 *   own work and the concurrency of the two calls: sequential calls would make this 2x).
 * Requests are interleaved so machine noise hits both alike.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Agent, request } from 'undici';
import { PATHS } from '../../lambda/shared/contract.js';
import { gatewayEnvFrom } from '../../local/config.js';
import { startGateway } from '../../local/gateway.js';
import { fmt, isMain, percentile, table } from './stats.js';

const KEY = 'bench-verify-key-0123456789abcdef';
/** Target of issue 11: verify-faces at most 1.3x one get-face-embeddings. */
const TARGET_RATIO = 1.3;
const FAKE_LATENCY_MS = 150;

interface Measured {
  readonly verify: { p50: number; p95: number };
  readonly embed: { p50: number; p95: number };
  readonly ratio: number;
}

async function measure(baseUrl: string, image: Buffer, warmups: number, samples: number): Promise<Measured> {
  const b64 = image.toString('base64');
  const bodies = {
    verify: JSON.stringify({ image1: { bytes: b64 }, image2: { bytes: b64 } }),
    embed: JSON.stringify({ image: { bytes: b64 }, maxFaceCount: 1 }),
  };
  const paths = { verify: PATHS.verifyFaces, embed: PATHS.getFaceEmbeddings };
  // One connection per kind: a verify never waits behind an embed on the client side.
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 2 });
  async function once(kind: 'verify' | 'embed'): Promise<number> {
    const t = performance.now();
    const res = await request(`${baseUrl}${paths[kind]}`, {
      method: 'POST', dispatcher: agent, body: bodies[kind],
      headers: { 'content-type': 'application/json', authorization: `ApiKey ${KEY}` },
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${kind}: unexpected ${res.statusCode}: ${text.slice(0, 200)}`);
    return performance.now() - t;
  }
  for (let i = 0; i < warmups; i++) {
    await once('verify');
    await once('embed');
  }
  const times = { verify: [] as number[], embed: [] as number[] };
  for (let i = 0; i < samples; i++) {
    // Alternate which goes first, so neither always follows the other.
    const order: Array<'verify' | 'embed'> = i % 2 === 0 ? ['verify', 'embed'] : ['embed', 'verify'];
    for (const kind of order) times[kind].push(await once(kind));
  }
  await agent.close();
  const stats = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
  };
  const verify = stats(times.verify);
  const embed = stats(times.embed);
  return { verify, embed, ratio: verify.p50 / embed.p50 };
}

async function fakeBackend(): Promise<{ url: string; server: Server; maxInFlight: () => number }> {
  const embedding = Array.from({ length: 128 }, (_, i) => Math.sin(i + 1) / 8);
  const embedAnswer = JSON.stringify({ faces: [{ face: { confidence: 0.99, boundingBox: { x: 10, y: 10, width: 100, height: 120 } }, embedding }], unprocessedFaceCount: 0 });
  let inFlight = 0;
  let max = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === PATHS.compareFaceEmbeddings) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"similarity":100}');
        return;
      }
      inFlight++;
      max = Math.max(max, inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(200, { 'content-type': 'application/json' }).end(embedAnswer);
      }, FAKE_LATENCY_MS);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, maxInFlight: () => max };
}

export async function runVerifyBench(): Promise<string> {
  const faceApiDir = dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json'));
  const image = readFileSync(join(faceApiDir, 'demo', 'sample1.jpg'));

  const engineGateway = await startGateway(gatewayEnvFrom({ PORT: '0', API_KEYS: KEY }), { log: () => undefined });
  let engine: Measured;
  try {
    engine = await measure(engineGateway.url, image, 3, 30);
  } finally {
    await engineGateway.close();
  }

  const fake = await fakeBackend();
  const fakeGateway = await startGateway(gatewayEnvFrom({ PORT: '0', API_KEYS: KEY, BACKEND_URL: fake.url, COMPARE_MODE: 'forward' }), { log: () => undefined });
  let fixed: Measured;
  try {
    fixed = await measure(fakeGateway.url, image, 5, 60);
  } finally {
    await fakeGateway.close();
    fake.server.close();
  }

  const row = (what: string, m: Measured): string[] => [what, fmt(m.embed.p50, 1), fmt(m.embed.p95, 1), fmt(m.verify.p50, 1), fmt(m.verify.p95, 1), `${fmt(m.ratio)}x`];
  return [
    '### verify-faces vs one get-face-embeddings (extension, through the local gateway)',
    '',
    `Image: face-api's demo/sample1.jpg (${image.length} bytes) as both images of verify-faces and as the image of get-face-embeddings (maxFaceCount 1). ` +
      'Requests interleaved on keep-alive connections, one at a time; the engine gateway 30 pairs after 3 warm-ups, the fixed-latency one 60 after 5.',
    '',
    table(['backend', 'get-face-embeddings p50 ms', 'p95 ms', 'verify-faces p50 ms', 'p95 ms', 'ratio at p50'], [
      row('embedded engine (`npm start`)', engine),
      row(`fake backend, ${FAKE_LATENCY_MS} ms per get-face-embeddings (compare forwarded, instant)`, fixed),
    ]),
    '',
    `Target: verify-faces at most ${TARGET_RATIO}x one get-face-embeddings. Embedded engine: **${fmt(engine.ratio)}x** (${engine.ratio <= TARGET_RATIO ? 'met' : 'NOT met'}); ` +
      `with a fixed-latency backend: **${fmt(fixed.ratio)}x** (${fixed.ratio <= TARGET_RATIO ? 'met' : 'NOT met'}; the fake backend saw ${fake.maxInFlight()} calls in flight at once). ` +
      'The two get-face-embeddings calls are always in flight together; with the engine the ratio is as close to 1x as the engine runs two inferences at once ' +
      '(an engine that runs one inference at a time makes it about 2x).',
  ].join('\n');
}

if (isMain(import.meta.url)) runVerifyBench().then((md) => console.log(md), (e) => { console.error(e); process.exit(1); });
