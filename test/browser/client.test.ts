/**
 * The typed client (client/index.ts) in a real Chromium: bundled by esbuild for the browser platform
 * (a `node:` import would fail the build), loaded into a page on another 127.0.0.1 origin, calling
 * the real local gateway across origins (CORS_ALLOW_ORIGINS, preflight for `Authorization`).
 * No Node `Buffer` exists there: images are encoded by the btoa path.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_DIR } from '../../lib/config.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { sample } from '../helpers/images.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const KEY = 'browser-client-key-0123456789abcdef';

describe('the typed client in Chromium', () => {
  let gw: TestGateway;
  let browser: Browser;
  let page: Server;
  let pageUrl: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium package (see .ci/run)`);
    const bundle = await build({ entryPoints: [join(PROJECT_DIR, 'client', 'index.ts')], bundle: true, write: false, platform: 'browser', format: 'iife', globalName: 'FaceVerification', target: 'es2022' });
    const script = bundle.outputFiles[0]!.text;
    page = createServer((req, res) => {
      if (req.url === '/client.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>client</title><script src="/client.js"></script>');
    });
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
    gw = await startTestGateway({ API_KEYS: KEY, CORS_ALLOW_ORIGINS: pageUrl });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    page?.close();
  });

  it('GIVEN a page on an allowed origin WHEN it calls detectFaces and compareFaceEmbeddings THEN typed answers; a wrong key is a FaceVerificationError with the request id', async () => {
    const tab = await browser.newPage();
    await tab.goto(`${pageUrl}/`);
    const small = await sharp(sample(1)).resize({ width: 640 }).jpeg({ quality: 85 }).toBuffer();
    const result = await tab.evaluate(
      async ({ baseUrl, apiKey, bytes }) => {
        type Lib = typeof import('../../client/index.js');
        const lib = (globalThis as unknown as { FaceVerification: Lib }).FaceVerification;
        const client = new lib.FaceVerificationClient({ baseUrl, apiKey });
        const image = lib.imageFromBuffer(new Uint8Array(bytes).buffer);
        const detected = await client.detectFaces({ image, maxFaceCount: 10 });
        const compared = await client.compareFaceEmbeddings({ embedding1: [1, 0, 0], embedding2: [1, 0, 0] });
        let refused: Record<string, unknown> = {};
        try {
          await new lib.FaceVerificationClient({ baseUrl, apiKey: 'wrong-key-0000' }).compareFaceEmbeddings({ embedding1: [1], embedding2: [1] });
        } catch (error) {
          const e = error as InstanceType<Lib['FaceVerificationError']>;
          refused = { isApiError: e instanceof lib.FaceVerificationError, status: e.status, type: e.type, requestId: e.requestId };
        }
        return { hasBuffer: 'Buffer' in globalThis, faces: detected.faces?.length ?? 0, firstWidth: detected.faces?.[0]?.boundingBox.width ?? 0, similarity: compared.similarity, refused };
      },
      { baseUrl: gw.url, apiKey: KEY, bytes: [...small] },
    );
    expect(result.hasBuffer).toBe(false);
    expect(result.faces).toBeGreaterThan(1);
    expect(result.firstWidth).toBeGreaterThan(10);
    expect(result.similarity).toBe(100);
    expect(result.refused).toMatchObject({ isApiError: true, status: 401, type: 'urn:face-verification:problem:unauthorized' });
    expect(result.refused.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
