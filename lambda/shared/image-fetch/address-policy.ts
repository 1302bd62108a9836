/**
 * SSRF policy for `image.url`: which URLs may be fetched and which IP
 * addresses may be connected to. Address ranges come from ipaddr.js (no
 * hand-rolled parsing); the rule is an allow-list: only global unicast is
 * fetched, everything ipaddr.js names a special range is refused.
 */
import ipaddr from 'ipaddr.js';
import { ApiError } from '../problem.js';

/** Field name used in every error this module raises. */
export const IMAGE_URL_FIELD = 'image.url';

/** Longest `image.url` accepted; the de-facto URL limit of browsers and CDNs (2,048 characters). */
export const MAX_IMAGE_URL_LENGTH = 2048;

/**
 * Ports fetched for addresses outside the allow-list. A public image host is
 * on 80/443; other ports would let a caller use this function to probe
 * third-party services (SMTP, Redis, admin consoles) on public hosts.
 */
export const STANDARD_PORTS: ReadonlySet<number> = new Set([80, 443]);

/** A parsed CIDR, as ipaddr.js returns it. */
export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** A malformed operator setting (thrown at start-up, never for a client's input). */
export class ImageFetchConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageFetchConfigError';
  }
}

/** Verdict on one IP address. */
export interface AddressVerdict {
  /** Whether a connection to the address is permitted. */
  readonly allowed: boolean;
  /** ipaddr.js range name (`unicast`, `loopback`, `private`, ...), or `invalid`, `ipv4Compatible`, `notGlobalUnicast`. */
  readonly range: string;
  /** True when the address lies in an allow-list CIDR (which also lifts the port restriction). */
  readonly inAllowList: boolean;
}

// 2000::/3 is the only IPv6 block IANA allocates as global unicast (RFC 4291 2.4);
// ipaddr.js calls anything outside its special list 'unicast', including ::/96.
const GLOBAL_UNICAST_V6: Cidr = ipaddr.parseCIDR('2000::/3');
// Deprecated IPv4-compatible IPv6 (RFC 4291 2.5.5.1), e.g. ::127.0.0.1 = ::7f00:1.
const IPV4_COMPATIBLE_V6: Cidr = ipaddr.parseCIDR('::/96');

/** Parses an address in strict form only (dotted quad or IPv6); null otherwise. */
function parseStrict(ip: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (ipaddr.IPv4.isValidFourPartDecimal(ip)) return ipaddr.IPv4.parse(ip);
  if (ip.includes(':') && ipaddr.IPv6.isValid(ip)) return ipaddr.IPv6.parse(ip);
  return null;
}

function inCidr(addr: ipaddr.IPv4 | ipaddr.IPv6, cidr: Cidr): boolean {
  // ipaddr.js throws when matching an IPv4 address against an IPv6 CIDR.
  return addr.kind() === cidr[0].kind() && addr.match(cidr);
}

/**
 * Parses the allow-list of CIDRs (`IMAGE_FETCH_ALLOW_CIDRS`): a comma-separated
 * string or a list. Addresses inside these CIDRs are fetched even when private
 * or loopback, on any port (tests and on-premises image stores).
 * @throws ImageFetchConfigError naming the first malformed entry.
 */
export function parseAllowCidrs(spec: string | readonly string[], source = 'IMAGE_FETCH_ALLOW_CIDRS'): Cidr[] {
  const entries = (typeof spec === 'string' ? spec.split(',') : [...spec]).map((s) => s.trim()).filter((s) => s !== '');
  return entries.map((entry) => {
    const [address = '', bits, ...rest] = entry.split('/');
    const strict = ipaddr.IPv4.isValidCIDRFourPartDecimal(entry) || (address.includes(':') && ipaddr.IPv6.isValidCIDR(entry));
    if (!strict || bits === undefined || rest.length > 0) {
      throw new ImageFetchConfigError(
        `${source}: '${entry}' is not a CIDR; expected comma-separated entries such as 127.0.0.1/32 or fd00::/8`,
      );
    }
    return ipaddr.parseCIDR(entry);
  });
}

/**
 * Classifies an IP address for the SSRF policy. Allowed: IPv4 that ipaddr.js
 * calls `unicast`, IPv6 `unicast` inside 2000::/3, or any address inside an
 * allow-list CIDR. Everything else (loopback, private, link-local incl.
 * 169.254.169.254, CGNAT, multicast, broadcast, reserved, documentation,
 * benchmarking, unspecified, unique-local, IPv4-mapped/-compatible, 6to4,
 * Teredo, NAT64 ...) and anything that does not parse strictly is refused.
 */
export function classifyAddress(ip: string, allowCidrs: readonly Cidr[] = []): AddressVerdict {
  const addr = parseStrict(ip);
  if (addr === null) return { allowed: false, range: 'invalid', inAllowList: false };
  let range: string = addr.range();
  if (addr.kind() === 'ipv6' && range === 'unicast' && !inCidr(addr, GLOBAL_UNICAST_V6)) {
    range = inCidr(addr, IPV4_COMPATIBLE_V6) ? 'ipv4Compatible' : 'notGlobalUnicast';
  }
  const inAllowList = allowCidrs.some((cidr) => inCidr(addr, cidr));
  return { allowed: range === 'unicast' || inAllowList, range, inAllowList };
}

const RANGE_WORDS: Readonly<Record<string, string>> = {
  unspecified: 'an unspecified address',
  broadcast: 'a broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT address',
  private: 'a private address',
  reserved: 'a reserved or documentation address',
  uniqueLocal: 'a unique-local address',
  ipv4Mapped: 'an IPv4-mapped IPv6 address',
  ipv4Compatible: 'an IPv4-compatible IPv6 address',
  rfc6145: 'an IPv4-translated IPv6 address',
  rfc6052: 'a NAT64 address',
  '6to4': 'a 6to4 address',
  teredo: 'a Teredo address',
  benchmarking: 'a benchmarking address',
  invalid: 'an address that cannot be parsed',
};

/** Words for a refused range, for error messages: `loopback` -> `a loopback address`. */
export function describeRange(range: string): string {
  return RANGE_WORDS[range] ?? `a special-purpose address (${range})`;
}

/**
 * Builds the `image-url-rejected` error. `redirected` says whether the URL
 * came from a redirect's Location, so the message does not blame the client's URL.
 */
function rejected(reason: string, redirected: boolean): ApiError {
  const text = redirected ? `redirects to a URL that ${reason}` : reason;
  return new ApiError('image-url-rejected', `${IMAGE_URL_FIELD} ${text}`, {
    errors: [{ field: IMAGE_URL_FIELD, reason: text }],
  });
}

/** Effective TCP port of an http(s) URL (the WHATWG parser drops the scheme's default port). */
export function effectivePort(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/**
 * The host of a parsed URL as an IP literal (brackets stripped), or null when
 * it is a DNS name. The WHATWG parser has already normalized odd IPv4
 * spellings (`127.1`, `0x7f000001`, `2130706433`, `0177.0.0.1`) to dotted quads.
 */
export function ipLiteralHost(url: URL): string | null {
  const host = url.hostname;
  if (host.startsWith('[') && host.endsWith(']')) return host.slice(1, -1);
  return ipaddr.IPv4.isValidFourPartDecimal(host) ? host : null;
}

/**
 * Checks an `image.url` (or a redirect's resolved Location, `redirected`)
 * before any network use: absolute http/https, no user:password, at most
 * 2,048 characters, an IP-literal host must pass {@link classifyAddress}, and
 * a DNS name on a non-standard port needs an allow-list. Messages never echo
 * the URL (its query may hold a token).
 * @throws ApiError `image-url-rejected`.
 */
export function checkImageUrl(raw: string, allowCidrs: readonly Cidr[] = [], redirected = false): URL {
  const tooLong = `is longer than ${MAX_IMAGE_URL_LENGTH} characters`;
  if (raw.length > MAX_IMAGE_URL_LENGTH) throw rejected(tooLong, redirected);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw rejected('is not an absolute URL', redirected);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw rejected('is not an http or https URL', redirected);
  if (url.username !== '' || url.password !== '') throw rejected('contains a user name or password', redirected);
  if (url.href.length > MAX_IMAGE_URL_LENGTH) throw rejected(tooLong, redirected);
  const literal = ipLiteralHost(url);
  if (literal !== null) {
    const verdict = classifyAddress(literal, allowCidrs);
    if (!verdict.allowed) throw rejected(`points to ${describeRange(verdict.range)}`, redirected);
    checkPort(url, verdict.inAllowList, redirected);
  } else if (allowCidrs.length === 0) {
    // No allow-list: a non-standard port can be refused before any DNS query.
    checkPort(url, false, redirected);
  }
  return url;
}

/**
 * Refuses a port other than 80/443 unless every address of the host lies in
 * the allow-list.
 * @throws ApiError `image-url-rejected`.
 */
export function checkPort(url: URL, allInAllowList: boolean, redirected = false): void {
  const port = effectivePort(url);
  if (!STANDARD_PORTS.has(port) && !allInAllowList) {
    throw rejected(`uses port ${port}; only ports 80 and 443 are fetched`, redirected);
  }
}

/**
 * Checks every address a host name resolved to; one refused address refuses
 * the URL (a mixed public/private DNS answer is a rebinding attempt).
 * @throws ApiError `image-url-rejected`.
 */
export function checkResolvedAddresses(
  url: URL,
  addresses: readonly string[],
  allowCidrs: readonly Cidr[],
  redirected = false,
): void {
  if (addresses.length === 0) throw rejected('resolves to no address', redirected);
  let allInAllowList = true;
  for (const address of addresses) {
    const verdict = classifyAddress(address, allowCidrs);
    if (!verdict.allowed) throw rejected(`resolves to ${describeRange(verdict.range)}`, redirected);
    allInAllowList &&= verdict.inAllowList;
  }
  checkPort(url, allInAllowList, redirected);
}

/**
 * True when a URL host name is a loopback IP literal (127.0.0.0/8, ::1, or an
 * IPv4-mapped 127.x), decided by ipaddr.js, or exactly `localhost` (a name
 * reserved for loopback, RFC 6761 section 6.3). A string-prefix test would
 * call `127.evil.example` loopback; this does not.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  if (host.toLowerCase() === 'localhost') return true;
  const addr = parseStrict(host);
  if (addr === null) return false;
  const plain = addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
  return plain.range() === 'loopback';
}

/** Widest allow-list prefix a deployment accepts: an IPv4 /16 (65,536 addresses) ... */
export const MIN_DEPLOYABLE_PREFIX_V4 = 16;
/** ... and an IPv6 /48 (one site's allocation). */
export const MIN_DEPLOYABLE_PREFIX_V6 = 48;

/**
 * Ranges a deployed allow-list must not touch: loopback, link-local (the
 * instance metadata address 169.254.169.254 is in it) and the unspecified
 * address, in IPv4, IPv6 and the IPv6 spellings of IPv4 (mapped ::ffff:a.b.c.d
 * and compatible ::a.b.c.d), since the allow-list matches those too.
 */
const FORBIDDEN_ALLOW_RANGE_TEXT: ReadonlyArray<readonly [string, string]> = [
  ['0.0.0.0/8', 'the unspecified address (0.0.0.0/8)'],
  ['127.0.0.0/8', 'loopback (127.0.0.0/8)'],
  ['169.254.0.0/16', 'link-local (169.254.0.0/16, instance metadata)'],
  ['::/128', 'the unspecified address (::)'],
  ['::1/128', 'loopback (::1)'],
  ['fe80::/10', 'link-local (fe80::/10)'],
  ['::ffff:0.0.0.0/104', 'the unspecified address (::ffff:0.0.0.0/104)'],
  ['::ffff:127.0.0.0/104', 'loopback (::ffff:127.0.0.0/104)'],
  ['::ffff:169.254.0.0/112', 'link-local (::ffff:169.254.0.0/112)'],
  ['::127.0.0.0/104', 'loopback (::127.0.0.0/104)'],
  ['::169.254.0.0/112', 'link-local (::169.254.0.0/112)'],
];
// Parsed on first use: only `cdk synth` checks allow-lists, so the functions that bundle this
// module (fetch-image, proxy) do not pay for it in their start-up.
let forbiddenAllowRanges: ReadonlyArray<{ cidr: Cidr; words: string }> | undefined;
const forbiddenRanges = () => (forbiddenAllowRanges ??= FORBIDDEN_ALLOW_RANGE_TEXT.map(([cidr, words]) => ({ cidr: ipaddr.parseCIDR(cidr), words })));

/** True when two CIDRs of the same family share at least one address. */
function overlaps(a: Cidr, b: Cidr): boolean {
  if (a[0].kind() !== b[0].kind()) return false;
  // Two prefixes overlap exactly when the shorter one contains the other's network address.
  return a[1] <= b[1] ? inCidr(b[0], a) : inCidr(a[0], b);
}

/** One refused allow-list entry: its index in the list and why. */
export interface AllowCidrProblem {
  readonly index: number;
  readonly reason: string;
}

/**
 * Checks an allow-list for a deployment (run at `cdk synth`): every entry must
 * parse with the runtime's own parser ({@link parseAllowCidrs}), cover no
 * loopback, link-local or unspecified address, and be no wider than /16
 * (IPv4) or /48 (IPv6).
 * @returns one problem per bad entry; empty when the list is deployable.
 */
export function deployableAllowCidrProblems(entries: readonly string[]): AllowCidrProblem[] {
  const problems: AllowCidrProblem[] = [];
  entries.forEach((entry, index) => {
    let cidr: Cidr | undefined;
    try {
      [cidr] = parseAllowCidrs([entry]);
    } catch {
      cidr = undefined;
    }
    if (cidr === undefined) {
      problems.push({ index, reason: `'${entry}' is not a CIDR such as 10.20.0.0/24 or fd12:3456:789a::/48` });
      return;
    }
    const hit = forbiddenRanges().find((forbidden) => overlaps(cidr, forbidden.cidr));
    if (hit) {
      problems.push({ index, reason: `'${entry}' covers ${hit.words}, which the image fetcher must never reach` });
      return;
    }
    const min = cidr[0].kind() === 'ipv4' ? MIN_DEPLOYABLE_PREFIX_V4 : MIN_DEPLOYABLE_PREFIX_V6;
    if (cidr[1] < min) problems.push({ index, reason: `'${entry}' is wider than /${min}; allow only the networks that hold images` });
  });
  return problems;
}
