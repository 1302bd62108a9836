/**
 * Issue 10, points 7 and 8: configuration that would open the image fetcher
 * or break it at run time fails `cdk synth`, naming the field.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../lib/config.js';
import { imageFetchConfigFromEnv, MAX_IMAGE_BYTES_LIMIT } from '../../lambda/shared/image-fetch/index.js';

function configError(input: unknown): string {
  try {
    parseConfig(input, 'test');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

describe('imageFetch.allowCidrs at synth', () => {
  it.each([
    ['0.0.0.0/0', 'imageFetch.allowCidrs.0: \'0.0.0.0/0\' covers the unspecified address'],
    ['127.0.0.1/32', 'imageFetch.allowCidrs.0: \'127.0.0.1/32\' covers loopback'],
    ['169.254.169.254/32', 'imageFetch.allowCidrs.0: \'169.254.169.254/32\' covers link-local'],
    ['fe80::/64', 'imageFetch.allowCidrs.0: \'fe80::/64\' covers link-local'],
    ['::/0', 'imageFetch.allowCidrs.0: \'::/0\' covers the unspecified address'],
    ['10.0.0.0/8', 'imageFetch.allowCidrs.0: \'10.0.0.0/8\' is wider than /16'],
    ['2001:db8::/32', 'imageFetch.allowCidrs.0: \'2001:db8::/32\' is wider than /48'],
    ['10.0.0.0/33', 'imageFetch.allowCidrs.0: \'10.0.0.0/33\' is not a CIDR'],
  ])('refuses %s naming the field', (cidr, message) => {
    expect(configError({ imageFetch: { allowCidrs: [cidr] } })).toContain(message);
  });

  it('names the position of the bad entry', () => {
    expect(configError({ imageFetch: { allowCidrs: ['10.1.0.0/24', '10.2.0.0/24', '169.254.0.0/16'] } })).toContain('imageFetch.allowCidrs.2:');
  });

  it('accepts narrow private ranges, which the runtime parser reads back identically', () => {
    const config = parseConfig({ imageFetch: { allowCidrs: ['10.20.0.0/16', 'fd12:3456:789a::/48'] } });
    expect(config.imageFetch.allowCidrs).toEqual(['10.20.0.0/16', 'fd12:3456:789a::/48']);
    expect(imageFetchConfigFromEnv({ IMAGE_FETCH_ALLOW_CIDRS: config.imageFetch.allowCidrs.join(',') }).allowCidrs).toEqual(config.imageFetch.allowCidrs);
  });
});

describe('imageFetch.maxBytes: one limit for synth and run time', () => {
  it('refuses anything the runtime would refuse (6 MiB used to pass synth and 502 every image.url)', () => {
    expect(configError({ imageFetch: { maxBytes: 6 * 1024 * 1024 } })).toContain('imageFetch.maxBytes: must be at most 4717824');
    expect(configError({ imageFetch: { maxBytes: MAX_IMAGE_BYTES_LIMIT + 1 } })).toContain('imageFetch.maxBytes');
  });

  it('accepts the runtime limit itself, and the runtime accepts what synth passes', () => {
    for (const maxBytes of [1024, 4 * 1024 * 1024, MAX_IMAGE_BYTES_LIMIT]) {
      const config = parseConfig({ imageFetch: { maxBytes } });
      expect(imageFetchConfigFromEnv({ IMAGE_FETCH_MAX_BYTES: String(config.imageFetch.maxBytes) }).maxBytes).toBe(maxBytes);
    }
    expect(imageFetchConfigFromEnv({ IMAGE_FETCH_MAX_BYTES: String(parseConfig({}).imageFetch.maxBytes) }).maxBytes).toBe(4 * 1024 * 1024);
  });
});
