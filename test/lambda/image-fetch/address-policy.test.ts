import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../lambda/shared/problem.js';
import {
  ImageFetchConfigError,
  MAX_IMAGE_BYTES_LIMIT,
  checkImageUrl,
  checkResolvedAddresses,
  classifyAddress,
  createImageFetcher,
  imageBytesFromResult,
  imageFetchConfigFromEnv,
  parseAllowCidrs,
} from '../../../lambda/shared/image-fetch/index.js';

/** Runs `fn`, expecting an ApiError; returns it. */
function apiErrorOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('expected an ApiError, nothing was thrown');
}

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['169.254.0.1', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.127.255.255', 'carrierGradeNat'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['192.0.2.10', 'reserved'], // TEST-NET-1 documentation
    ['198.51.100.10', 'reserved'], // TEST-NET-2
    ['203.0.113.10', 'reserved'], // TEST-NET-3
    ['198.18.0.1', 'reserved'], // benchmarking
    ['192.0.0.8', 'reserved'], // IETF protocol assignments
    ['240.0.0.1', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fe80::1%eth0', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd12::1', 'uniqueLocal'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'ipv4Mapped'],
    ['::ffff:10.0.0.1', 'ipv4Mapped'],
    ['::ffff:8.8.8.8', 'ipv4Mapped'],
    ['::127.0.0.1', 'ipv4Mapped'], // ipaddr.js reads the dotted IPv4-compatible form as mapped
    ['::7f00:1', 'ipv4Compatible'], // the same address as the URL parser writes it
    ['::ffff:0:7f00:1', 'rfc6145'],
    ['64:ff9b::a00:1', 'rfc6052'], // NAT64 of 10.0.0.1
    ['64:ff9b:1::1', 'rfc6052'],
    ['2002:7f00:1::', '6to4'],
    ['2001::1', 'teredo'],
    ['2001:2::1', 'benchmarking'],
    ['2001:db8::1', 'reserved'], // documentation
    ['3fff::1', 'reserved'], // documentation (RFC 9637)
    ['100::1', 'discard'],
    ['fec0::1', 'deprecatedSiteLocal'],
    ['4000::1', 'notGlobalUnicast'],
  ])('refuses %s (%s)', (ip, range) => {
    const verdict = classifyAddress(ip);
    expect(verdict).toEqual({ allowed: false, range, inAllowList: false });
  });

  it.each(['8.8.8.8', '1.1.1.1', '93.184.215.14', '2606:4700::1111', '2001:4860:4860::8888'])('allows public %s', (ip) => {
    expect(classifyAddress(ip)).toEqual({ allowed: true, range: 'unicast', inAllowList: false });
  });

  it.each(['127.1', '0x7f000001', '2130706433', '0177.0.0.1', 'localhost', '', '1.2.3.4.5', '[::1]', 'not an ip'])(
    'refuses the non-canonical or invalid form %j instead of guessing',
    (ip) => {
      expect(classifyAddress(ip)).toEqual({ allowed: false, range: 'invalid', inAllowList: false });
    },
  );

  it('permits an address inside an allow-list CIDR even when it is loopback or private', () => {
    const allow = parseAllowCidrs('127.0.0.1/32, 10.1.0.0/16,fd00::/8');
    expect(classifyAddress('127.0.0.1', allow)).toEqual({ allowed: true, range: 'loopback', inAllowList: true });
    expect(classifyAddress('10.1.200.3', allow)).toMatchObject({ allowed: true, range: 'private' });
    expect(classifyAddress('fd00::5', allow)).toMatchObject({ allowed: true, range: 'uniqueLocal' });
    // Just outside the CIDRs: still refused.
    expect(classifyAddress('127.0.0.2', allow)).toMatchObject({ allowed: false, range: 'loopback' });
    expect(classifyAddress('10.2.0.1', allow)).toMatchObject({ allowed: false });
    // An IPv4 CIDR does not open the IPv4-mapped IPv6 spelling.
    expect(classifyAddress('::ffff:127.0.0.1', allow)).toMatchObject({ allowed: false, range: 'ipv4Mapped' });
    // Public addresses in the list are marked (that lifts the port restriction).
    expect(classifyAddress('8.8.8.8', parseAllowCidrs('8.8.8.0/24'))).toEqual({ allowed: true, range: 'unicast', inAllowList: true });
  });
});

describe('parseAllowCidrs', () => {
  it('accepts an empty spec and lists', () => {
    expect(parseAllowCidrs('')).toEqual([]);
    expect(parseAllowCidrs(' , ')).toEqual([]);
    expect(parseAllowCidrs(['127.0.0.1/32']).map(([a, bits]) => `${a.toString()}/${bits}`)).toEqual(['127.0.0.1/32']);
  });

  it.each(['10.0.0.0/33', '10.0.0.1', 'example.com/24', '127.1/32', '::1/129', '10.0.0.0/8/8', 'fd00::/x'])(
    'throws a configuration error naming the variable for %j',
    (entry) => {
      expect(() => parseAllowCidrs(`127.0.0.1/32,${entry}`)).toThrow(ImageFetchConfigError);
      expect(() => parseAllowCidrs(`127.0.0.1/32,${entry}`)).toThrow(
        new RegExp(`IMAGE_FETCH_ALLOW_CIDRS: '${entry.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}' is not a CIDR`),
      );
    },
  );
});

describe('checkImageUrl (before any network)', () => {
  it.each([
    ['http://127.1/a.jpg', 'a loopback address'],
    ['http://0x7f000001/a.jpg', 'a loopback address'],
    ['http://2130706433/a.jpg', 'a loopback address'],
    ['http://0177.0.0.1/a.jpg', 'a loopback address'],
    ['http://127.0.0.1./a.jpg', 'a loopback address'],
    ['http://%31%32%37.0.0.1/a.jpg', 'a loopback address'],
    ['http://0/a.jpg', 'an unspecified address'],
    ['http://169.254.169.254/latest/meta-data/', 'a link-local address'],
    ['http://[::1]/a.jpg', 'a loopback address'],
    ['http://[::ffff:127.0.0.1]/a.jpg', 'an IPv4-mapped IPv6 address'],
    ['http://[::127.0.0.1]/a.jpg', 'an IPv4-compatible IPv6 address'],
    ['http://[fe80::1]/a.jpg', 'a link-local address'],
    ['http://10.0.0.1/a.jpg', 'a private address'],
  ])('normalizes and refuses %s', (url, words) => {
    const err = apiErrorOf(() => checkImageUrl(url));
    expect(err.kind).toBe('image-url-rejected');
    expect(err.status).toBe(400);
    expect(err.message).toBe(`image.url points to ${words}`);
    expect(err.errors).toEqual([{ field: 'image.url', reason: `points to ${words}` }]);
  });

  it('relies on the WHATWG parser to turn odd IPv4 spellings into dotted quads', () => {
    for (const host of ['127.1', '0x7f000001', '2130706433', '0177.0.0.1']) {
      expect(new URL(`http://${host}/`).hostname).toBe('127.0.0.1');
    }
  });

  it.each([
    ['ftp://images.example.com/a.jpg', 'image.url is not an http or https URL'],
    ['file:///etc/passwd', 'image.url is not an http or https URL'],
    ['data:image/jpeg;base64,/9j/', 'image.url is not an http or https URL'],
    ['javascript:alert(1)', 'image.url is not an http or https URL'],
    ['/relative/a.jpg', 'image.url is not an absolute URL'],
    ['images.example.com/a.jpg', 'image.url is not an absolute URL'],
    ['https://user:pass@images.example.com/a.jpg', 'image.url contains a user name or password'],
    ['https://token@images.example.com/a.jpg', 'image.url contains a user name or password'],
    [`https://images.example.com/${'a'.repeat(2030)}`, 'image.url is longer than 2048 characters'],
    ['https://images.example.com:8443/a.jpg', 'image.url uses port 8443; only ports 80 and 443 are fetched'],
    ['http://8.8.8.8:22/a.jpg', 'image.url uses port 22; only ports 80 and 443 are fetched'],
  ])('refuses %s', (url, message) => {
    const err = apiErrorOf(() => checkImageUrl(url));
    expect(err.kind).toBe('image-url-rejected');
    expect(err.message).toBe(message);
  });

  it('never echoes the URL or its query in the message', () => {
    const err = apiErrorOf(() => checkImageUrl('https://user:TOPSECRET@10.0.0.1/a.jpg?sig=TOPSECRET'));
    expect(err.message).not.toContain('TOPSECRET');
    expect(err.message).not.toContain('10.0.0.1');
    expect(JSON.stringify(err.toProblem())).not.toContain('TOPSECRET');
  });

  it('accepts public http(s) URLs on 80/443, and the exact 2,048-character limit', () => {
    expect(checkImageUrl('https://images.example.com/a.jpg?x=1').hostname).toBe('images.example.com');
    expect(checkImageUrl('http://8.8.8.8/a.png').hostname).toBe('8.8.8.8');
    expect(checkImageUrl('http://images.example.com:443/a.png').port).toBe('443');
    expect(checkImageUrl('https://[2606:4700::1111]/a.png').hostname).toBe('[2606:4700::1111]');
    const base = 'https://images.example.com/';
    expect(checkImageUrl(base + 'a'.repeat(2048 - base.length)).href).toHaveLength(2048);
    expect(() => checkImageUrl(base + 'a'.repeat(2049 - base.length))).toThrow(/longer than 2048/);
  });

  it('allows any port, and private addresses, inside the allow-list', () => {
    const allow = parseAllowCidrs('127.0.0.1/32');
    expect(checkImageUrl('http://127.0.0.1:8080/a.jpg', allow).port).toBe('8080');
    expect(() => checkImageUrl('http://127.0.0.2:8080/a.jpg', allow)).toThrow(/loopback/);
  });

  it('words a refused redirect target as a redirect', () => {
    const err = apiErrorOf(() => checkImageUrl('file:///etc/passwd', [], true));
    expect(err.message).toBe('image.url redirects to a URL that is not an http or https URL');
  });
});

describe('checkResolvedAddresses', () => {
  const url = new URL('https://images.example.com/a.jpg');

  it('refuses a DNS answer that mixes public and private addresses', () => {
    const err = apiErrorOf(() => checkResolvedAddresses(url, ['8.8.8.8', '10.0.0.7'], []));
    expect(err.kind).toBe('image-url-rejected');
    expect(err.message).toBe('image.url resolves to a private address');
    expect(() => checkResolvedAddresses(url, ['2606:4700::1111', '::1'], [])).toThrow('resolves to a loopback address');
  });

  it('accepts an all-public answer', () => {
    expect(() => checkResolvedAddresses(url, ['8.8.8.8', '2606:4700::1111'], [])).not.toThrow();
  });

  it('lifts the port restriction only when every address is in the allow-list', () => {
    const odd = new URL('http://images.example.com:8080/a.jpg');
    const allow = parseAllowCidrs('127.0.0.0/8');
    expect(() => checkResolvedAddresses(odd, ['127.0.0.1'], allow)).not.toThrow();
    expect(() => checkResolvedAddresses(odd, ['127.0.0.1', '8.8.8.8'], allow)).toThrow('uses port 8080');
  });
});

describe('configuration', () => {
  it('has the documented defaults', () => {
    expect(imageFetchConfigFromEnv({})).toEqual({
      allowCidrs: [],
      maxBytes: 4_194_304,
      connectTimeoutMs: 3_000,
      totalTimeoutMs: 10_000,
      maxRedirects: 3,
    });
  });

  it('reads IMAGE_FETCH_* variables', () => {
    const config = imageFetchConfigFromEnv({
      IMAGE_FETCH_ALLOW_CIDRS: '127.0.0.1/32, 10.0.0.0/8',
      IMAGE_FETCH_MAX_BYTES: '1000',
      IMAGE_FETCH_TIMEOUT_MS: '2500',
      IMAGE_FETCH_CONNECT_TIMEOUT_MS: '700',
    });
    expect(config).toEqual({
      allowCidrs: ['127.0.0.1/32', '10.0.0.0/8'],
      maxBytes: 1000,
      connectTimeoutMs: 700,
      totalTimeoutMs: 2500,
      maxRedirects: 3,
    });
  });

  it('fails at start-up on a malformed CIDR or number', () => {
    expect(() => imageFetchConfigFromEnv({ IMAGE_FETCH_ALLOW_CIDRS: '127.0.0.1/32,10.0.0.0/33' })).toThrow(
      "IMAGE_FETCH_ALLOW_CIDRS: '10.0.0.0/33' is not a CIDR",
    );
    expect(() => imageFetchConfigFromEnv({ IMAGE_FETCH_MAX_BYTES: '4MB' })).toThrow(ImageFetchConfigError);
    expect(() => imageFetchConfigFromEnv({ IMAGE_FETCH_TIMEOUT_MS: '0' })).toThrow(/IMAGE_FETCH_TIMEOUT_MS must be an integer >= 1/);
    expect(() => createImageFetcher({ allowCidrs: ['nope'] })).toThrow("allowCidrs: 'nope' is not a CIDR");
  });

  it('keeps the cap small enough for the base64 answer to fit Lambda’s 6 MB response', () => {
    expect(MAX_IMAGE_BYTES_LIMIT).toBe(4_717_824);
    expect(Math.ceil(MAX_IMAGE_BYTES_LIMIT / 3) * 4).toBeLessThanOrEqual(6_291_456 - 1024);
    expect(Math.ceil(4_194_304 / 3) * 4).toBeLessThan(6_291_456);
    expect(() => imageFetchConfigFromEnv({ IMAGE_FETCH_MAX_BYTES: String(MAX_IMAGE_BYTES_LIMIT + 1) })).toThrow(
      /at most 4717824/,
    );
    expect(imageFetchConfigFromEnv({ IMAGE_FETCH_MAX_BYTES: String(MAX_IMAGE_BYTES_LIMIT) }).maxBytes).toBe(MAX_IMAGE_BYTES_LIMIT);
  });
});

describe('imageBytesFromResult', () => {
  it('decodes an ok result and rethrows a problem as an ApiError', () => {
    expect(imageBytesFromResult({ ok: true, bytesBase64: Buffer.from([1, 2, 3]).toString('base64'), contentLength: 3 })).toEqual(
      Buffer.from([1, 2, 3]),
    );
    const err = apiErrorOf(() =>
      imageBytesFromResult({ ok: false, problem: { kind: 'image-fetch-failed', detail: 'image.url answered with HTTP status 404' } }),
    );
    expect(err.kind).toBe('image-fetch-failed');
    expect(err.status).toBe(400);
    expect(err.message).toBe('image.url answered with HTTP status 404');
    expect(err.errors).toEqual([{ field: 'image.url', reason: 'answered with HTTP status 404' }]);
  });
});
