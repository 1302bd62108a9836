/**
 * Suite 1, the embedded engine's share: a few hundred images that pass the
 * gateway's validation (right signature, strict base64, dimensions within the
 * limits) but are junk inside: a JPEG header followed by garbage, truncated
 * files, flipped bytes in a real photo, PNGs whose IHDR promises millions of
 * pixels. Through the gateway, and straight to the engine (which must hold on
 * its own, also for dimensions the gateway would have refused). 200 or 4xx, never a 5xx.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetectFacesResponseSchema, GetFaceEmbeddingsResponseSchema, PATHS } from '../../lambda/shared/contract.js';
import { answerProblems, percentile, recordFigures } from '../helpers/reliability/answers.js';
import { createClient, type Client } from '../helpers/reliability/client.js';
import { startGatewayInProcess, type InProcessGateway } from '../helpers/reliability/gateway.js';
import { jpegHeaderOnly, makeImageKit, pngHeaderOnly, type ImageKit } from '../helpers/reliability/images.js';

const KEY = 'engine-junk-key-0123456789abcdef';
const THROUGH_GATEWAY = 200;
const DIRECT_TO_ENGINE = 60;
/** The engine runs one inference at a time; two in flight keep it busy without filling its 16-deep queue. */
const IN_FLIGHT = 2;
const PNG_SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_SIG = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);

/** Junk with a valid-looking face: every one passes the gateway's checks (`within` keeps dimensions inside its limits). */
function junkImage(kit: ImageKit, within: boolean): fc.Arbitrary<Buffer> {
  const side = within ? fc.integer({ min: 1, max: 6000 }) : fc.oneof(fc.integer({ min: 1, max: 70_000 }), fc.constantFrom(8192, 8193, 20_000, 65_535));
  const flip = (image: Buffer, from: number) =>
    fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 24 }).map((flips) => {
      const copy = Buffer.from(image);
      for (const [at, value] of flips) copy[from + (at % (copy.length - from))] = value;
      return copy;
    });
  return fc.oneof(
    { weight: 3, arbitrary: fc.uint8Array({ minLength: 16, maxLength: 4096 }).map((junk) => Buffer.concat([kit.smallPhoto.subarray(0, 600), junk])) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(JPEG_SIG, PNG_SIG), fc.uint8Array({ minLength: 8, maxLength: 2048 })).map(([sig, junk]) => Buffer.concat([sig, junk])) },
    { weight: 3, arbitrary: fc.tuple(side, side).filter(([w, h]) => !within || w * h <= 40_000_000).map(([w, h]) => pngHeaderOnly(w, h)) },
    { weight: 1, arbitrary: fc.tuple(side, side).filter(([w, h]) => !within || w * h <= 40_000_000).map(([w, h]) => jpegHeaderOnly(w, h)) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(kit.smallPhoto, kit.tinyJpeg, kit.tinyPng), fc.nat()).map(([image, cut]) => image.subarray(0, 40 + (cut % (image.length - 40)))) },
    { weight: 1, arbitrary: flip(kit.smallPhoto, 700) },
    { weight: 1, arbitrary: fc.constantFrom(...kit.disguised.map((d) => d.bytes)) },
  );
}

describe('junk images that pass validation, against the real embedded engine', () => {
  let kit: ImageKit;
  let gw: InProcessGateway;
  let viaGateway: Client;
  let direct: Client;
  const engineErrors: string[] = [];
  const originalConsoleError = console.error;

  beforeAll(async () => {
    kit = await makeImageKit();
    // The engine reports unexpected (5xx) failures on console.error: capture them, they must not happen.
    console.error = (...args: unknown[]) => engineErrors.push(args.map(String).join(' '));
    gw = await startGatewayInProcess({ API_KEYS: KEY, BACKEND_TIMEOUT_MS: '20000', INTEGRATION_TIMEOUT_MS: '25000' });
    viaGateway = createClient(gw.url, { connections: IN_FLIGHT, hangMs: 25_000, authorization: `ApiKey ${KEY}` });
    direct = createClient(gw.backendUrl, { connections: IN_FLIGHT, hangMs: 25_000 });
  });

  afterAll(async () => {
    await viaGateway?.close();
    await direct?.close();
    await gw?.close();
    console.error = originalConsoleError;
  });

  async function run(client: Client, count: number, within: boolean, label: string): Promise<void> {
    const statuses = new Map<number, number>();
    const latencies: number[] = [];
    let sent = 0;
    const request = fc.record({
      image: junkImage(kit, within),
      maxFaceCount: fc.integer({ min: 1, max: 10 }),
      embed: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: IN_FLIGHT, maxLength: IN_FLIGHT }), async (batch) => {
        const answers = await Promise.all(
          batch.map(({ image, maxFaceCount, embed }) =>
            client.post(embed ? PATHS.getFaceEmbeddings : PATHS.detectFaces, JSON.stringify({ image: { bytes: image.toString('base64') }, maxFaceCount })),
          ),
        );
        for (const [i, answer] of answers.entries()) {
          sent++;
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          latencies.push(answer.ms);
          const okSchema = batch[i]!.embed ? GetFaceEmbeddingsResponseSchema : DetectFacesResponseSchema;
          const problems = answerProblems(answer, { okSchema });
          if (answer.status !== 200 && answer.status !== 400) problems.push(`status ${answer.status}`);
          if (problems.length > 0) throw new Error(`${problems.join('; ')} for ${batch[i]!.image.length} bytes starting ${batch[i]!.image.subarray(0, 32).toString('hex')}`);
        }
      }),
      { numRuns: Math.ceil(count / IN_FLIGHT), seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined },
    );
    recordFigures('hostile-engine', {
      target: label, sent, ok: statuses.get(200) ?? 0, refused: statuses.get(400) ?? 0,
      fiveXx: [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0),
      p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: Math.max(...latencies),
    });
    expect(sent).toBeGreaterThanOrEqual(count);
    expect([...statuses.keys()].every((s) => s === 200 || s === 400)).toBe(true);
    // Both outcomes occur: junk that decodes to something (200, usually no face) and junk refused as undecodable (400).
    expect(statuses.get(400) ?? 0).toBeGreaterThan(count / 4);
  }

  it(`${THROUGH_GATEWAY} junk images through the gateway -> 200 or 400, never 5xx`, () => run(viaGateway, THROUGH_GATEWAY, true, 'gateway + engine'), 120_000);

  it(`${DIRECT_TO_ENGINE} junk images straight to the engine, dimensions unchecked -> 200 or 400, never 5xx`, () => run(direct, DIRECT_TO_ENGINE, false, 'engine alone'), 120_000);

  it('the engine reported no internal error and still answers', async () => {
    expect(engineErrors).toEqual([]);
    const answer = await viaGateway.post(PATHS.detectFaces, JSON.stringify({ image: { bytes: kit.smallPhoto.toString('base64') } }));
    expect(answerProblems(answer, { expected: { status: 200 }, okSchema: DetectFacesResponseSchema })).toEqual([]);
  });
});
