/**
 * Found by the hostile-input suite (a flaky mismatch with the oracle): image-size 2.1
 * reads header fields through `new DataView(input.buffer, input.byteOffset + offset)`,
 * a view with no end, so a truncated PNG/JPEG header is completed with whatever
 * follows the Buffer in its ArrayBuffer: for small Buffers, Node's shared 8 KiB pool,
 * i.e. stale memory of the process. The dimension check then accepted or refused at
 * random, and its error message ("is 16x4276545 px") printed those bytes back to the
 * client: a 4-byte read of process memory per request. Fixed in
 * lambda/shared/image-bytes.ts by handing image-size a copy bounded to the image.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS } from '../../lambda/shared/contract.js';
import { checkImageDimensions } from '../../lambda/shared/image-bytes.js';
import { answerJson, startFakeBackend, type FakeBackend } from '../helpers/fake-backend.js';
import { createClient, type Client } from '../helpers/reliability/client.js';
import { startGatewayInProcess, type InProcessGateway } from '../helpers/reliability/gateway.js';
import { jpegHeaderOnly } from '../helpers/reliability/images.js';

/** PNG signature + IHDR length and type + width 16, cut before the height (21 bytes). */
const TRUNCATED_PNG = Buffer.from('89504e470d0a1a0a0000000d494844520000001000', 'hex');

/** `bytes` as a view at the start of a larger buffer filled with `fill` (what a pooled Buffer looks like). */
function inLargerBuffer(bytes: Buffer, fill: number): Buffer {
  const backing = Buffer.alloc(bytes.length + 64, fill);
  bytes.copy(backing, 0);
  return backing.subarray(0, bytes.length);
}

describe('image header reading stays inside the image', () => {
  it('a truncated PNG is refused the same way whatever memory follows it', () => {
    const verdicts = [0x00, 0x41, 0x7f, 0xff].map((fill) => checkImageDimensions(inLargerBuffer(TRUNCATED_PNG, fill)));
    for (const verdict of verdicts) expect(verdict).toEqual({ ok: false, reason: 'is not a readable PNG image (no valid header with dimensions)' });
  });

  it('a truncated JPEG header is refused the same way whatever memory follows it', () => {
    const cut = jpegHeaderOnly(640, 480).subarray(0, 26); // inside SOF0, before the width
    const verdicts = [0x00, 0x41, 0xff].map((fill) => checkImageDimensions(inLargerBuffer(cut, fill)));
    expect(new Set(verdicts.map((v) => JSON.stringify(v))).size).toBe(1);
    expect(verdicts[0]!.ok).toBe(false);
  });

  it('whole images inside a larger buffer still read their own dimensions', () => {
    expect(checkImageDimensions(inLargerBuffer(jpegHeaderOnly(640, 480), 0x41))).toMatchObject({ ok: true, dimensions: { width: 640, height: 480, format: 'jpeg' } });
  });

  describe('through the gateway', () => {
    let backend: FakeBackend;
    let gw: InProcessGateway;
    let client: Client;
    beforeAll(async () => {
      backend = await startFakeBackend(answerJson(200, { faces: [], unprocessedFaceCount: 0 }));
      gw = await startGatewayInProcess({ API_KEYS: 'bounds-key-0123456789abcdef', BACKEND_URL: backend.url });
      client = createClient(gw.url, { connections: 8, authorization: 'ApiKey bounds-key-0123456789abcdef' });
    });
    afterAll(async () => {
      await client?.close();
      await gw?.close();
      await backend?.close();
    });

    it('300 identical truncated PNGs get 300 identical answers, none echoing memory', async () => {
      const body = JSON.stringify({ image: { bytes: TRUNCATED_PNG.toString('base64') } });
      // Other traffic in between keeps the buffer pool busy with other data.
      const noise = JSON.stringify({ embedding1: Array(64).fill(0.123456), embedding2: [1] });
      const details = new Set<string>();
      for (let round = 0; round < 30; round++) {
        const answers = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? client.post(PATHS.compareFaceEmbeddings, noise) : client.post(PATHS.detectFaces, body))),
        );
        for (const answer of answers.filter((_, i) => i % 2 === 0)) {
          expect(answer.status).toBe(400);
          details.add(JSON.parse(answer.text).detail as string);
        }
      }
      expect([...details]).toEqual(['image.bytes: is not a readable PNG image (no valid header with dimensions)']);
    });
  });
});
