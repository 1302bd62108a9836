/**
 * Swagger UI in a real Chromium (Debian package, driven by playwright-core):
 * the page lists the vendor's three operations and the extensions (their own tag), "Try it out"
 * on detect-faces with an ApiKey returns the embedded engine's real answer, and every operation's
 * example answers 200.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { sample } from '../helpers/images.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('Swagger UI in Chromium', () => {
  let gw: TestGateway;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium package (see .ci/run)`);
    gw = await startTestGateway({ API_KEYS: 'browser-key-0123456789abcdef' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('lists the three operations, then the extensions under their own tag, and runs detect-faces with an ApiKey', async () => {
    const page = await browser.newPage();
    await page.goto(`${gw.url}/swagger/index.html`);
    await page.waitForSelector('.opblock-summary-path');
    const paths = await page.locator('.opblock-summary-path').allInnerTexts();
    expect(paths.map((p) => p.replace(/\u200b/g, '').trim())).toEqual([
      '/v1/face-verification/detect-faces',
      '/v1/face-verification/get-face-embeddings',
      '/v1/face-verification/compare-face-embeddings',
      '/v1/face-verification/verify-faces',
      '/v1/face-verification/compare-face-embeddings-batch',
    ]);
    // The extensions are grouped apart from the vendor's operations and say so in their summary.
    for (const id of ['verifyFaces', 'compareFaceEmbeddingsBatch']) {
      expect(await page.locator(`#operations-Extensions-${id} .opblock-summary-description`).innerText()).toMatch(/\(extension\)/);
    }

    // Authorize with the ApiKey scheme: the whole header value goes in.
    await page.click('button.authorize');
    // No JWT issuer on this gateway: the dialog offers the ApiKey scheme only (issue 10, point 10).
    await expect.poll(() => page.locator('.modal-ux .auth-container').count()).toBe(1);
    expect(await page.locator('.modal-ux').innerText()).not.toMatch(/BearerAuth/);
    const apiKeyInput = page.locator('.modal-ux input').first();
    await apiKeyInput.fill(`ApiKey ${gw.apiKeys[0]}`);
    await page.locator('.modal-ux button.authorize').first().click();
    await page.locator('.modal-ux button.close-modal').click();
    // The key lives in the page's memory only: nothing in localStorage (persistAuthorization off).
    const stored = await page.evaluate(() => JSON.stringify(Object.entries((globalThis as unknown as { localStorage: Record<string, string> }).localStorage)));
    expect(stored).not.toContain(gw.apiKeys[0]);
    expect(await page.evaluate(() => (globalThis as unknown as { localStorage: { getItem(key: string): string | null } }).localStorage.getItem('authorized'))).toBeNull();

    const small = await sharp(sample(1)).resize({ width: 640 }).jpeg({ quality: 85 }).toBuffer();
    const operation = page.locator('#operations-Face_Verification-detectFaces');
    await operation.locator('.opblock-summary').click();
    await operation.locator('.try-out__btn').click();
    await operation.locator('textarea.body-param__text').fill(JSON.stringify({ image: { bytes: small.toString('base64'), url: null }, maxFaceCount: 10 }));
    await operation.locator('button.execute').click();
    const status = operation.locator('.live-responses-table tbody .response-col_status').first();
    await expect.poll(async () => (await status.innerText()).trim(), { timeout: 30_000 }).toBe('200');
    const body = await operation.locator('.live-responses-table tbody .response-col_description pre.microlight').first().innerText();
    const answer = JSON.parse(body);
    expect(answer.faces.length).toBeGreaterThan(0);
    expect(answer.faces[0].boundingBox.width).toBeGreaterThan(10);
  });

  it('GIVEN a new user WHEN they Authorize, click Try it out and Execute on each operation without editing the body THEN every example answers 200', async () => {
    const page = await browser.newPage();
    await page.goto(`${gw.url}/swagger/index.html`);
    await page.waitForSelector('.opblock-summary-path');
    // The Servers list names the gateway root, not a relative "../..".
    expect((await page.locator('.servers select option').allInnerTexts()).map((t) => t.trim())).toEqual(['/ - This API']);
    await page.click('button.authorize');
    await page.locator('.modal-ux input').first().fill(`ApiKey ${gw.apiKeys[0]}`);
    await page.locator('.modal-ux button.authorize').first().click();
    await page.locator('.modal-ux button.close-modal').click();

    for (const id of ['Face_Verification-detectFaces', 'Face_Verification-getFaceEmbeddings', 'Face_Verification-compareFaceEmbeddings', 'Extensions-verifyFaces', 'Extensions-compareFaceEmbeddingsBatch']) {
      const operation = page.locator(`#operations-${id}`);
      await operation.locator('.opblock-summary').click();
      await operation.locator('.try-out__btn').click();
      await operation.locator('button.execute').click();
      const status = operation.locator('.live-responses-table tbody .response-col_status').first();
      await expect.poll(async () => (await status.innerText()).trim(), { timeout: 30_000, message: id }).toBe('200');
    }
  });
});
