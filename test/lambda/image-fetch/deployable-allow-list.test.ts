/**
 * Issue 10, points 5 and 7: loopback is decided by an IP parser, and a
 * deployment's allow-list (checked at synth with the runtime's own parser)
 * can never open loopback, link-local (metadata) or the whole internet.
 */
import { describe, expect, it } from 'vitest';
import {
  classifyAddress,
  deployableAllowCidrProblems,
  isLoopbackHost,
  parseAllowCidrs,
} from '../../../lambda/shared/image-fetch/index.js';

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.255.0.9', '[::1]', '::1', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', 'localhost', 'LOCALHOST'])('%s is loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each(['127.evil.example', '127.0.0.1.nip.io', '127.1', '0x7f000001', '10.0.0.1', '[::2]', '[fe80::1]', 'localhost.evil.example', '', '128.0.0.1'])(
    '%s is not loopback',
    (host) => {
      expect(isLoopbackHost(host)).toBe(false);
    },
  );
});

describe('deployableAllowCidrProblems', () => {
  it.each([
    ['10.20.0.0/16'],
    ['10.20.30.0/24'],
    ['192.168.7.12/32'],
    ['fd12:3456:789a::/48'],
    ['2001:db8:1234:5678::/64'],
  ])('accepts %s', (cidr) => {
    expect(deployableAllowCidrProblems([cidr])).toEqual([]);
  });

  it.each([
    ['0.0.0.0/0', /covers the unspecified address/],
    ['0.0.0.0/32', /covers the unspecified address/],
    ['127.0.0.1/32', /covers loopback/],
    ['127.0.0.0/8', /covers loopback/],
    ['120.0.0.0/5', /covers loopback/],
    ['169.254.169.254/32', /covers link-local \(169\.254\.0\.0\/16, instance metadata\)/],
    ['169.0.0.0/8', /covers link-local/],
    ['::/0', /covers the unspecified address/],
    ['::1/128', /covers loopback/],
    ['fe80::/64', /covers link-local \(fe80::\/10\)/],
    ['fe80::1/128', /covers link-local/],
    ['::ffff:127.0.0.1/128', /covers loopback/],
    ['::ffff:169.254.169.254/128', /covers link-local/],
    ['::127.0.0.1/128', /covers loopback/],
    ['10.0.0.0/8', /wider than \/16/],
    ['10.20.0.0/15', /wider than \/16/],
    ['2001:db8::/32', /wider than \/48/],
    ['fd00::/8', /wider than \/48/],
    ['nope', /is not a CIDR/],
    ['10.0.0.0/33', /is not a CIDR/],
    ['10.0.0.1', /is not a CIDR/],
  ])('refuses %s', (cidr, reason) => {
    const problems = deployableAllowCidrProblems([cidr]);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.index).toBe(0);
    expect(problems[0]!.reason).toMatch(reason);
  });

  it('names the index of each bad entry and keeps the good ones', () => {
    expect(deployableAllowCidrProblems(['10.1.0.0/24', '0.0.0.0/0', '10.2.0.0/24', '127.0.0.1/32']).map((p) => p.index)).toEqual([1, 3]);
  });

  it('every refused range is one the runtime would otherwise open: the check guards exactly what the allow-list lifts', () => {
    // Without the synth check, these allow-lists make the runtime policy accept the addresses.
    expect(classifyAddress('169.254.169.254', parseAllowCidrs('0.0.0.0/0')).allowed).toBe(true);
    expect(classifyAddress('::ffff:127.0.0.1', parseAllowCidrs('::ffff:127.0.0.1/128')).allowed).toBe(true);
    expect(deployableAllowCidrProblems(['0.0.0.0/0', '::ffff:127.0.0.1/128'])).toHaveLength(2);
  });
});
