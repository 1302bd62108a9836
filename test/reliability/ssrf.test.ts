/**
 * Suite 2, SSRF: every URL of the corpus (test/helpers/reliability/ssrf.ts) sent
 * as `image.url` through the real gateway must be refused with a 4xx problem
 * naming `image.url`, within the fetch timeout, and:
 * - no connection to anything outside 127.0.0.0/8 and ::1 was even attempted
 *   (the net guard blocks and records attempts; its list must stay empty);
 * - the canaries on 127.0.0.1 and ::1 (internal services) were never contacted;
 * - nothing reached the backend.
 * DNS answers come from a scripted resolver passed to the gateway
 * (`startGateway(env, { imageFetchLookup })`), so rebinding runs end to end.
 * Three control URLs on the allowed host must succeed: the refusals are specific.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS } from '../../lambda/shared/contract.js';
import { createImageFetcher } from '../../lambda/shared/image-fetch/index.js';
import { answerJson, startFakeBackend, type FakeBackend } from '../helpers/fake-backend.js';
import { sample } from '../helpers/images.js';
import { answerProblems, percentile, recordFigures } from '../helpers/reliability/answers.js';
import { createClient, mapLimit, type Answer, type Client } from '../helpers/reliability/client.js';
import { startGatewayInProcess, type InProcessGateway } from '../helpers/reliability/gateway.js';
import { installNetGuard, type NetGuard } from '../helpers/reliability/net-guard.js';
import { scriptedDns, ssrfCorpus, startAttackerHost, startCanary, type Listening, type ScriptedDns, type SsrfCase } from '../helpers/reliability/ssrf.js';

const KEY = 'ssrf-suite-key-0123456789abcdef';
const FETCH_TIMEOUT_MS = 1500;
/** Scheduling slack on a loaded 2-core machine, on top of the fetch deadline. */
const SLACK_MS = 1000;

describe('SSRF corpus through the local gateway', () => {
  let guard: NetGuard;
  let backend: FakeBackend;
  let attacker: Listening;
  let canary4: Listening;
  let canary6: Listening;
  let dns: ScriptedDns;
  let gw: InProcessGateway;
  let client: Client;
  let corpus: SsrfCase[];
  const results = new Map<string, Answer>();

  beforeAll(async () => {
    guard = installNetGuard();
    backend = await startFakeBackend(answerJson(200, { faces: [], unprocessedFaceCount: 0 }));
    attacker = await startAttackerHost(sample(2));
    canary4 = await startCanary('127.0.0.1');
    canary6 = await startCanary('::1');
    dns = scriptedDns();
    gw = await startGatewayInProcess(
      {
        API_KEYS: KEY,
        BACKEND_URL: backend.url,
        IMAGE_FETCH_ALLOW_CIDRS: '127.0.0.2/32',
        IMAGE_FETCH_TIMEOUT_MS: String(FETCH_TIMEOUT_MS),
        IMAGE_FETCH_MAX_BYTES: String(1024 * 1024),
      },
      dns.lookup,
    );
    client = createClient(gw.url, { connections: 16, hangMs: 15_000, authorization: `ApiKey ${KEY}` });
    corpus = ssrfCorpus(attacker.port, canary4.port, canary6.port);
  });

  afterAll(async () => {
    await client?.close();
    await gw?.close();
    await Promise.all([backend?.close(), attacker?.close(), canary4?.close(), canary6?.close()]);
    guard?.uninstall();
  });

  it('the tripwire works: a connection to an address it treats as remote is blocked and recorded', async () => {
    // Checked on a loopback address (127.0.0.1) the nested guard pretends is remote: nothing can leave even if it failed.
    const target = await startCanary('127.0.0.1');
    const nested = installNetGuard({ allowAddress: (address) => address !== '127.0.0.1' });
    try {
      const fetcher = createImageFetcher({ allowCidrs: ['127.0.0.0/8'], lookup: async () => [{ address: '127.0.0.1', family: 4 }] });
      await expect(fetcher.fetch(`http://127.0.0.1:${target.port}/`)).rejects.toThrow(/could not be downloaded/);
      await expect(fetcher.fetch(`http://pinned.test:${target.port}/`)).rejects.toThrow(/could not be downloaded/);
    } finally {
      nested.uninstall();
      await target.close();
    }
    expect(nested.violations).toEqual([`connect 127.0.0.1:${target.port}`, `connect pinned.test=127.0.0.1:${target.port}`]);
    expect(target.connections()).toBe(0);
  });

  it('the corpus has at least 50 URLs across every class', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(50);
    expect(new Set(corpus.map((c) => c.category))).toEqual(
      new Set(['loopback spelling', 'unspecified', 'metadata', 'private', 'reserved', 'ipv6', 'dns', 'rebinding', 'port', 'userinfo', 'confusion', 'scheme', 'malformed', 'redirect', 'content', 'slow']),
    );
    expect(new Set(corpus.map((c) => c.url)).size).toBe(corpus.length);
  });

  it('every URL is refused with a 4xx problem on image.url, within the fetch timeout', async () => {
    const started = performance.now();
    const answers = await mapLimit(corpus, 16, (c) => client.post(PATHS.detectFaces, JSON.stringify({ image: { url: c.url } })));
    const wall = performance.now() - started;
    const failures: string[] = [];
    for (const [i, c] of corpus.entries()) {
      const answer = answers[i]!;
      results.set(c.name, answer);
      const problems = answerProblems(answer);
      if (answer.status < 400 || answer.status > 499) problems.push(`status ${answer.status}`);
      const body = answer.text ? (JSON.parse(answer.text) as { errors?: Array<{ field: string }> }) : {};
      if (body.errors?.[0]?.field !== 'image.url') problems.push(`errors[0].field ${String(body.errors?.[0]?.field)}`);
      if (answer.ms > FETCH_TIMEOUT_MS + SLACK_MS) problems.push(`took ${Math.round(answer.ms)} ms`);
      if (problems.length > 0) failures.push(`[${c.category}] ${c.name} (${c.url.slice(0, 120)}): ${problems.join('; ')}`);
    }
    const latencies = answers.map((a) => a.ms);
    recordFigures('ssrf', {
      cases: corpus.length,
      refused: answers.filter((a) => a.status >= 400 && a.status < 500).length,
      fiveXx: answers.filter((a) => a.status >= 500).length,
      categories: [...new Set(corpus.map((c) => c.category))].length,
      p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: Math.max(...latencies), wallMs: wall,
      timeoutMs: FETCH_TIMEOUT_MS,
      kinds: Object.fromEntries(answers.reduce((m, a) => {
        const type = a.text ? String((JSON.parse(a.text) as { type?: string }).type).split(':').pop()! : 'none';
        return m.set(type, (m.get(type) ?? 0) + 1);
      }, new Map<string, number>())),
    });
    expect(failures).toEqual([]);
  }, 60_000);

  it('refused before any connection: nothing off-machine attempted, canaries untouched, nothing forwarded', () => {
    expect(guard.violations).toEqual([]);
    expect(canary4.connections()).toBe(0);
    expect(canary6.connections()).toBe(0);
    expect(canary4.requests).toEqual([]);
    expect(backend.received).toEqual([]);
    // The cloud-metadata address never even reached the connect stage.
    expect(guard.connections.filter((c) => c.includes('169.254') || c.includes('fd00:ec2'))).toEqual([]);
  });

  it('slow bodies and dead hosts are cut at the fetch deadline, not later', () => {
    for (const name of ['slow-drip body (1 byte / 100 ms)', 'no answer at all', 'headers, then the body stalls', 'lookup never returns (slow DNS)']) {
      const answer = results.get(name)!;
      expect(answer.status, name).toBe(400);
      expect(answer.ms, name).toBeGreaterThanOrEqual(FETCH_TIMEOUT_MS - 50);
      expect(answer.ms, name).toBeLessThan(FETCH_TIMEOUT_MS + SLACK_MS);
    }
    expect(JSON.parse(results.get('endless body')!.text).detail).toMatch(/larger than 1048576 bytes/);
  });

  it('DNS is asked once per hop: a rebinding name is pinned to its first (checked) answer', () => {
    expect(dns.queries.filter((q) => q === 'rebind-pinned.test')).toHaveLength(1);
    expect(attacker.requests).toContain('GET /html');
    expect(dns.queries.filter((q) => q === 'rebind-loopback.test')).toHaveLength(2);
    expect(JSON.parse(results.get('second lookup (after a redirect to itself) answers 127.0.0.1')!.text).detail).toMatch(/redirects to a URL that resolves to a loopback address/);
  });

  it('messages never echo the URL (its query could hold a token)', () => {
    for (const c of corpus) {
      const text = results.get(c.name)!.text;
      expect(text, c.name).not.toContain('secret');
      expect(text, c.name).not.toContain(String(canary4.port));
      expect(text, c.name).not.toContain('metadata.google.internal');
    }
  });

  // verify-faces (extension): the same corpus through image1.url and through image2.url (the other image valid bytes),
  // refused exactly as image.url is, naming the image, before any connection and with nothing forwarded.
  // Run after the image.url checks above, which count DNS queries and connections of the first pass.
  it.each(['image1', 'image2'] as const)('verify-faces: every URL as %s.url is refused as image.url is, naming that image', async (name) => {
    const other = name === 'image1' ? 'image2' : 'image1';
    const forwardedBefore = backend.received.length;
    const answers = await mapLimit(corpus, 16, (c) =>
      client.post(PATHS.verifyFaces, JSON.stringify({ [name]: { url: c.url }, [other]: { bytes: sample(1).toString('base64') } })),
    );
    const failures: string[] = [];
    for (const [i, c] of corpus.entries()) {
      const answer = answers[i]!;
      const asImage = results.get(c.name)!;
      const problems = answerProblems(answer);
      if (answer.status < 400 || answer.status > 499) problems.push(`status ${answer.status}`);
      const body = answer.text ? (JSON.parse(answer.text) as { type?: string; detail?: string; errors?: Array<{ field: string; reason: string }> }) : {};
      if (body.errors?.[0]?.field !== `${name}.url`) problems.push(`errors[0].field ${String(body.errors?.[0]?.field)}`);
      // The scripted resolver's rebinding names answer by lookup count, so a second pass meets other answers
      // (still refused, as checked above); every other case must get exactly image.url's answer, renamed.
      if (c.category !== 'rebinding') {
        const reference = JSON.parse(asImage.text) as { type?: string; detail?: string; errors?: Array<{ field: string; reason: string }> };
        if (answer.status !== asImage.status) problems.push(`status ${answer.status}, image.url got ${asImage.status}`);
        if (body.type !== reference.type) problems.push(`type ${String(body.type)}, image.url got ${String(reference.type)}`);
        if (body.errors?.[0]?.reason !== reference.errors?.[0]?.reason) problems.push(`reason differs from image.url's`);
        if (body.detail !== reference.detail?.replace(/^image\.url/, `${name}.url`)) problems.push(`detail ${String(body.detail)}`);
      }
      if (answer.ms > FETCH_TIMEOUT_MS + SLACK_MS) problems.push(`took ${Math.round(answer.ms)} ms`);
      for (const secret of ['secret', String(canary4.port), 'metadata.google.internal']) if (answer.text.includes(secret)) problems.push(`echoes ${secret}`);
      if (problems.length > 0) failures.push(`[${c.category}] ${c.name}: ${problems.join('; ')}`);
    }
    recordFigures('ssrf', { operation: `verify-faces ${name}.url`, cases: corpus.length, refused: answers.filter((a) => a.status >= 400 && a.status < 500).length, fiveXx: answers.filter((a) => a.status >= 500).length });
    expect(failures).toEqual([]);
    expect(guard.violations).toEqual([]);
    expect(canary4.connections()).toBe(0);
    expect(canary6.connections()).toBe(0);
    expect(backend.received.length).toBe(forwardedBefore);
  }, 60_000);

  it.each([
    ['the allowed host by address', (a: number) => `http://127.0.0.2:${a}/face.jpg`],
    ['the allowed host by name', (a: number) => `http://images.test:${a}/face.jpg`],
    ['three redirects (the maximum) on the allowed host', (a: number) => `http://127.0.0.2:${a}/chain?n=2&to=%2Fface.jpg`],
  ])('control: %s is fetched and forwarded (200)', async (_name, url) => {
    const before = backend.received.length;
    const answer = await client.post(PATHS.detectFaces, JSON.stringify({ image: { url: url(attacker.port) } }));
    expect(answer.status, answer.text).toBe(200);
    expect(backend.received.length).toBe(before + 1);
  });
});
