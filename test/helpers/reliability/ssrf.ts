/**
 * The SSRF corpus and its stage: an attacker's image host on 127.0.0.2 (the one
 * address the gateway's allow-list opens) that redirects, drips, lies about
 * content types and never ends; canary servers on 127.0.0.1 and ::1 that must
 * never be contacted; and a scripted DNS whose answers point at internal
 * addresses or change between lookups. No URL here makes traffic leave the
 * machine: the net guard (net-guard.ts) blocks and records any attempt.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { HostResolver, ResolvedAddress } from '../../../lambda/shared/image-fetch/index.js';
import { jpegHeaderOnly, pngHeaderOnly } from './images.js';

export interface Listening {
  readonly port: number;
  readonly origin: string;
  /** Requests (method + path) the server received. */
  readonly requests: string[];
  /** TCP connections accepted. */
  connections(): number;
  close(): Promise<void>;
}

async function listen(server: Server, host: string): Promise<{ port: number; close(): Promise<void>; connections(): number }> {
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A server that records every request and answers 200 "canary": it stands for an internal service. */
export async function startCanary(host: '127.0.0.1' | '::1'): Promise<Listening> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'image/jpeg' }).end(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x63, 0x61, 0x6e, 0x61, 0x72, 0x79]));
  });
  const l = await listen(server, host);
  return { port: l.port, origin: `http://${host.includes(':') ? `[${host}]` : host}:${l.port}`, requests, connections: l.connections, close: l.close };
}

/** The attacker's host on 127.0.0.2. Routes are listed in the corpus below. */
export async function startAttackerHost(jpeg: Buffer): Promise<Listening> {
  const requests: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const every = (res: ServerResponse, ms: number, tick: () => void) => {
    const timer = setInterval(tick, ms);
    timers.add(timer);
    res.on('close', () => {
      clearInterval(timer);
      timers.delete(timer);
    });
  };
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://attacker.invalid');
    const to = url.searchParams.get('to') ?? '/face.jpg';
    const send = (status: number, type: string, body: Buffer | string) => res.writeHead(status, { 'content-type': type }).end(body);
    switch (url.pathname) {
      case '/face.jpg': return send(200, 'image/jpeg', jpeg);
      case '/redirect': return res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: to }).end();
      case '/chain': {
        const n = Number(url.searchParams.get('n') ?? 0);
        const next = n > 0 ? `/chain?n=${n - 1}&to=${encodeURIComponent(to)}` : to;
        return res.writeHead(302, { location: next }).end();
      }
      case '/loop': return res.writeHead(302, { location: '/loop' }).end();
      case '/no-location': return res.writeHead(302).end();
      case '/html': return send(200, 'text/html', '<html><body>login</body></html>');
      case '/svg': return send(200, 'image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg"/>');
      case '/gif': return send(200, 'image/gif', Buffer.from('474946383961010001000000002c00000000010001000002024401003b', 'hex'));
      case '/webp': return send(200, 'image/webp', Buffer.concat([Buffer.from('RIFF\x1a\x00\x00\x00WEBPVP8 ', 'latin1'), Buffer.alloc(14)]));
      case '/json': return send(200, 'application/json', '{"Code":"Success","AccessKeyId":"ASIA..."}');
      case '/jpeg-lie': return send(200, 'image/jpeg', '<html>not a jpeg</html>');
      case '/png-bomb': return send(200, 'image/png', pngHeaderOnly(100_000, 100_000));
      case '/jpeg-bomb': return send(200, 'image/jpeg', jpegHeaderOnly(65_535, 65_535));
      case '/gzip': return res.writeHead(200, { 'content-type': 'image/jpeg', 'content-encoding': 'gzip' }).end(gzipSync(jpeg));
      case '/declared-huge': {
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': '999999999' });
        return res.write(jpeg.subarray(0, 64));
      }
      case '/endless': {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        res.write(Buffer.from([0xff, 0xd8, 0xff, 0xe0]));
        return every(res, 1, () => res.write(Buffer.alloc(64 * 1024)));
      }
      case '/drip': {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        res.write(Buffer.from([0xff, 0xd8, 0xff, 0xe0]));
        return every(res, 100, () => res.write(Buffer.from([0])));
      }
      case '/hang': return undefined; // accepts the request, never answers
      case '/hang-body': {
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': '100000' });
        return res.write(jpeg.subarray(0, 100));
      }
      case '/reset': return req.socket.destroy();
      case '/status': return send(Number(url.searchParams.get('code') ?? 500), 'text/plain', 'Traceback (most recent call last): secret internals');
      default: return send(404, 'text/plain', 'no such image');
    }
  });
  const l = await listen(server, '127.0.0.2');
  return {
    port: l.port,
    origin: `http://127.0.0.2:${l.port}`,
    requests,
    connections: l.connections,
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      await l.close();
    },
  };
}

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });

export interface ScriptedDns {
  readonly lookup: HostResolver;
  /** Host names asked for, in order. */
  readonly queries: string[];
}

/**
 * DNS as an attacker controls it: names that answer internal addresses, mixed
 * answers, odd spellings, empty answers, errors, a lookup that never returns,
 * and names whose answer changes after the first lookup (rebinding).
 */
export function scriptedDns(): ScriptedDns {
  const queries: string[] = [];
  const seen = new Map<string, number>();
  const fixed: Record<string, readonly ResolvedAddress[]> = {
    'images.test': [v4('127.0.0.2')],
    localhost: [v4('127.0.0.1'), v6('::1')],
    'localhost.': [v4('127.0.0.1')],
    '127.0.0.1.nip.io': [v4('127.0.0.1')],
    'metadata.google.internal': [v4('169.254.169.254')],
    'instance-data.ec2.internal': [v4('169.254.169.254')],
    'ecs-credentials.test': [v4('169.254.170.2')],
    'private.test': [v4('10.0.0.5')],
    'cgnat.test': [v4('100.64.0.9')],
    'v6-loopback.test': [v6('::1')],
    'v6-mapped.test': [v6('::ffff:127.0.0.1')],
    'v6-imds.test': [v6('fd00:ec2::254')],
    'v6-link-local.test': [v6('fe80::1')],
    'mixed.test': [v4('127.0.0.2'), v4('10.0.0.1')],
    'mixed-v6.test': [v4('127.0.0.2'), v6('::1')],
    'odd-hex.test': [v4('0x7f.0.0.1')],
    'odd-short.test': [v4('127.1')],
    'odd-decimal.test': [v4('2130706433')],
    'unspecified.test': [v4('0.0.0.0')],
    'public-port.test': [v4('93.184.216.34')],
    'empty.test': [],
  };
  // First answer: the allowed attacker host; every later one: an internal address.
  const rebinding: Record<string, string> = {
    'rebind-loopback.test': '127.0.0.1',
    'rebind-metadata.test': '169.254.169.254',
    'rebind-pinned.test': '127.0.0.1',
  };
  const lookup: HostResolver = async (hostname) => {
    queries.push(hostname);
    const count = (seen.get(hostname) ?? 0) + 1;
    seen.set(hostname, count);
    if (hostname in rebinding) return [v4(count === 1 ? '127.0.0.2' : rebinding[hostname]!)];
    if (hostname === 'slow-dns.test') return new Promise<never>(() => undefined);
    if (hostname === 'servfail.test') throw Object.assign(new Error('queryA ESERVFAIL'), { code: 'ESERVFAIL' });
    const answer = fixed[hostname];
    if (answer) return answer;
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  };
  return { lookup, queries };
}

/** One corpus entry: what it tries and the URL it sends as `image.url`. */
export interface SsrfCase {
  readonly category: string;
  readonly name: string;
  readonly url: string;
}

/**
 * At least 50 URLs, each of which must be refused (4xx) within the fetch timeout.
 * `a` = the attacker host's port, `c4`/`c6` = the canaries' ports.
 */
export function ssrfCorpus(a: number, c4: number, c6: number): SsrfCase[] {
  const A = `http://127.0.0.2:${a}`;
  const via = (to: string, status = 302) => `${A}/redirect?status=${status}&to=${encodeURIComponent(to)}`;
  const list: Array<[string, string, string]> = [
    // IPv4 loopback in every spelling the WHATWG parser normalises
    ['loopback spelling', 'dotted quad', `http://127.0.0.1:${c4}/`],
    ['loopback spelling', 'short form 127.1', `http://127.1:${c4}/`],
    ['loopback spelling', 'three parts 127.0.1', `http://127.0.1:${c4}/`],
    ['loopback spelling', 'hex integer', `http://0x7f000001:${c4}/`],
    ['loopback spelling', 'hex parts', `http://0x7f.0x0.0x0.0x1:${c4}/`],
    ['loopback spelling', 'decimal integer', `http://2130706433:${c4}/`],
    ['loopback spelling', 'octal parts', `http://0177.0.0.01:${c4}/`],
    ['loopback spelling', 'end of 127/8', `http://127.255.255.254:${c4}/`],
    ['loopback spelling', 'fullwidth/circled digits (IDNA)', `http://\u2460\u2461\u2466.0.0.1:${c4}/`],
    ['loopback spelling', 'ideographic full stops', `http://127\u30020\u30020\u30021:${c4}/`],
    ['loopback spelling', 'percent-encoded host', `http://%31%32%37.0.0.1:${c4}/`],
    ['loopback spelling', 'upper-case scheme', `HTTP://127.0.0.1:${c4}/`],
    ['unspecified', '0', `http://0:${c4}/`],
    ['unspecified', '0.0.0.0', `http://0.0.0.0:${c4}/`],
    // Cloud metadata and other internal IPv4
    ['metadata', 'AWS IMDS', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'],
    ['metadata', 'IMDS as hex', 'http://0xa9fea9fe/latest/meta-data/'],
    ['metadata', 'IMDS as decimal', 'http://2852039166/latest/meta-data/'],
    ['metadata', 'IMDS as octal', 'http://0251.0376.0251.0376/'],
    ['metadata', 'IMDS as 169.254.43518', 'http://169.254.43518/'],
    ['metadata', 'ECS task credentials', 'http://169.254.170.2/v2/credentials/'],
    ['private', '10/8', 'http://10.0.0.1/a.jpg'],
    ['private', '172.16/12', 'http://172.31.255.254/a.jpg'],
    ['private', '192.168/16', 'http://192.168.1.1/a.jpg'],
    ['private', 'CGNAT 100.64/10', 'http://100.64.0.1/a.jpg'],
    ['reserved', 'benchmarking 198.18/15', 'http://198.18.0.1/'],
    ['reserved', 'documentation 192.0.2/24', 'http://192.0.2.10/'],
    ['reserved', 'IETF 192.0.0/24', 'http://192.0.0.170/'],
    ['reserved', 'class E 240/4', 'http://240.0.0.1/'],
    ['reserved', 'broadcast', 'http://255.255.255.255/'],
    ['reserved', 'multicast', 'http://224.0.0.251/'],
    // IPv6
    ['ipv6', 'loopback ::1', `http://[::1]:${c6}/`],
    ['ipv6', 'loopback, long form', `http://[0:0:0:0:0:0:0:1]:${c6}/`],
    ['ipv6', 'unspecified ::', `http://[::]:${c6}/`],
    ['ipv6', 'IPv4-mapped loopback', `http://[::ffff:127.0.0.1]:${c4}/`],
    ['ipv6', 'IPv4-mapped loopback, hex', `http://[::ffff:7f00:1]:${c4}/`],
    ['ipv6', 'IPv4-mapped IMDS', 'http://[::ffff:169.254.169.254]/'],
    ['ipv6', 'IPv4-compatible loopback', `http://[::127.0.0.1]:${c4}/`],
    ['ipv6', 'AWS IMDS over IPv6', 'http://[fd00:ec2::254]/latest/meta-data/'],
    ['ipv6', 'unique local', 'http://[fc00::1]/'],
    ['ipv6', 'link local', 'http://[fe80::1]/'],
    ['ipv6', 'link local with zone id', 'http://[fe80::1%25eth0]/'],
    ['ipv6', 'multicast', 'http://[ff02::1]/'],
    ['ipv6', '6to4 of 127.0.0.1', 'http://[2002:7f00:1::]/'],
    ['ipv6', 'Teredo', 'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/'],
    ['ipv6', 'NAT64 of 127.0.0.1', 'http://[64:ff9b::7f00:1]/'],
    ['ipv6', 'NAT64 of IMDS', 'http://[64:ff9b::a9fe:a9fe]/'],
    ['ipv6', 'discard-only 100::/64', 'http://[100::1]/'],
    ['ipv6', 'documentation 2001:db8::/32', 'http://[2001:db8::1]/'],
    // Names whose DNS answer is internal
    ['dns', 'localhost', `http://localhost:${c4}/`],
    ['dns', 'localhost with a trailing dot', `http://localhost.:${c4}/`],
    ['dns', 'LOCALHOST upper case', `http://LOCALHOST:${c4}/`],
    ['dns', 'wildcard DNS to 127.0.0.1', `http://127.0.0.1.nip.io:${c4}/`],
    ['dns', 'GCP metadata name', 'http://metadata.google.internal/computeMetadata/v1/'],
    ['dns', 'EC2 instance-data name', 'http://instance-data.ec2.internal/latest/meta-data/'],
    ['dns', 'ECS credentials by name', 'http://ecs-credentials.test/v2/credentials/'],
    ['dns', 'name -> 10/8', 'http://private.test/a.jpg'],
    ['dns', 'name -> CGNAT', 'http://cgnat.test/a.jpg'],
    ['dns', 'name -> ::1', `http://v6-loopback.test:${c6}/`],
    ['dns', 'name -> IPv4-mapped loopback', `http://v6-mapped.test:${c4}/`],
    ['dns', 'name -> IMDS IPv6', 'http://v6-imds.test/'],
    ['dns', 'name -> link-local IPv6', 'http://v6-link-local.test/'],
    ['dns', 'mixed answer public-ish + 10/8', `http://mixed.test:${a}/face.jpg`],
    ['dns', 'mixed answer + ::1', `http://mixed-v6.test:${a}/face.jpg`],
    ['dns', 'answer spelled 0x7f.0.0.1', `http://odd-hex.test:${c4}/`],
    ['dns', 'answer spelled 127.1', `http://odd-short.test:${c4}/`],
    ['dns', 'answer spelled 2130706433', `http://odd-decimal.test:${c4}/`],
    ['dns', 'answer 0.0.0.0', `http://unspecified.test:${c4}/`],
    ['dns', 'empty answer', 'http://empty.test/a.jpg'],
    ['dns', 'NXDOMAIN', 'http://does-not-exist.test/a.jpg'],
    ['dns', 'SERVFAIL', 'http://servfail.test/a.jpg'],
    ['dns', 'lookup never returns (slow DNS)', 'http://slow-dns.test/a.jpg'],
    ['rebinding', 'second lookup (after a redirect to itself) answers 127.0.0.1', `http://rebind-loopback.test:${a}/redirect?to=${encodeURIComponent(`http://rebind-loopback.test:${c4}/`)}`],
    ['rebinding', 'second lookup answers IMDS', `http://rebind-metadata.test:${a}/redirect?to=${encodeURIComponent('http://rebind-metadata.test/latest/meta-data/')}`],
    ['rebinding', 'answer changes after the check: connection stays pinned to the checked address', `http://rebind-pinned.test:${a}/html`],
    // Ports, userinfo and parser confusion
    ['port', 'public address, SMTP port', 'http://8.8.8.8:25/'],
    ['port', 'public name, Redis port', 'http://public-port.test:6379/'],
    ['userinfo', 'user:password@ allowed host', `http://user:secret@127.0.0.2:${a}/face.jpg`],
    ['userinfo', 'allowed host as userinfo, loopback as host', `http://127.0.0.2:${a}@127.0.0.1:${c4}/`],
    ['userinfo', 'name as userinfo, IMDS as host', 'http://images.test@169.254.169.254/'],
    ['confusion', '# before @', `http://127.0.0.1:${c4}#@images.test/face.jpg`],
    ['confusion', '? before @', `http://127.0.0.1:${c4}?@images.test/face.jpg`],
    ['confusion', 'backslash before @', `http://127.0.0.1:${c4}\\@images.test/face.jpg`],
    ['confusion', 'IPv6 loopback then # and @', `http://[::1]:${c6}#@images.test/`],
    // Schemes and malformed URLs
    ['scheme', 'file', 'file:///etc/passwd'],
    ['scheme', 'ftp', `ftp://127.0.0.2:${a}/face.jpg`],
    ['scheme', 'gopher to Redis', 'gopher://127.0.0.1:6379/_INFO'],
    ['scheme', 'dict', 'dict://127.0.0.1:11211/stat'],
    ['scheme', 'data URI', 'data:image/jpeg;base64,/9j/4AAQ'],
    ['scheme', 'javascript', 'javascript:alert(1)'],
    ['scheme', 'https to a plain-HTTP host', `https://127.0.0.2:${a}/face.jpg`],
    ['malformed', 'scheme-relative', `//127.0.0.1:${c4}/`],
    ['malformed', 'empty host', 'http:///etc/passwd'],
    ['malformed', 'unclosed IPv6 bracket', 'http://[::1/'],
    ['malformed', 'over 2,048 characters', `${A}/face.jpg?${'a'.repeat(2100)}`],
    // Redirects into places the URL itself could not name
    ['redirect', '302 to 127.0.0.1', via(`http://127.0.0.1:${c4}/`)],
    ['redirect', '301 to localhost', via(`http://localhost:${c4}/`, 301)],
    ['redirect', '303 to ::1', via(`http://[::1]:${c6}/`, 303)],
    ['redirect', '307 to IMDS', via('http://169.254.169.254/latest/meta-data/', 307)],
    ['redirect', '308 to IMDS over IPv6', via('http://[fd00:ec2::254]/', 308)],
    ['redirect', 'to ECS credentials', via('http://169.254.170.2/v2/credentials/')],
    ['redirect', 'to the GCP metadata name', via('http://metadata.google.internal/')],
    ['redirect', 'to decimal loopback', via(`http://2130706433:${c4}/`)],
    ['redirect', 'to IPv4-mapped loopback', via(`http://[::ffff:127.0.0.1]:${c4}/`)],
    ['redirect', 'scheme-relative to loopback', via(`//127.0.0.1:${c4}/`)],
    ['redirect', 'to file://', via('file:///etc/passwd')],
    ['redirect', 'to gopher://', via('gopher://127.0.0.1:6379/_INFO')],
    ['redirect', 'to userinfo URL', via(`http://u:p@127.0.0.2:${a}/face.jpg`)],
    ['redirect', 'to a name answering 10/8', via('http://private.test/')],
    ['redirect', 'to a malformed Location', via('http://[')],
    ['redirect', 'chain of 3, then IMDS', `${A}/chain?n=2&to=${encodeURIComponent('http://169.254.169.254/latest/meta-data/')}`],
    ['redirect', 'chain of 2, then loopback', `${A}/chain?n=1&to=${encodeURIComponent(`http://127.0.0.1:${c4}/`)}`],
    ['redirect', 'endless loop', `${A}/loop`],
    ['redirect', 'one hop too many (4)', `${A}/chain?n=3&to=${encodeURIComponent('/face.jpg')}`],
    ['redirect', '302 without Location', `${A}/no-location`],
    // Bodies that are not a usable image
    ['content', 'HTML', `${A}/html`],
    ['content', 'SVG', `${A}/svg`],
    ['content', 'GIF', `${A}/gif`],
    ['content', 'WebP', `${A}/webp`],
    ['content', 'JSON credentials', `${A}/json`],
    ['content', 'HTML labelled image/jpeg', `${A}/jpeg-lie`],
    ['content', 'gzip-encoded JPEG', `${A}/gzip`],
    ['content', 'PNG bomb 100,000 x 100,000', `${A}/png-bomb`],
    ['content', 'JPEG bomb 65,535 x 65,535', `${A}/jpeg-bomb`],
    ['content', 'declared 1 GB', `${A}/declared-huge`],
    ['content', 'endless body', `${A}/endless`],
    ['content', 'HTTP 500 with a traceback', `${A}/status?code=500`],
    ['content', 'HTTP 401', `${A}/status?code=401`],
    ['content', 'HTTP 404', `${A}/nothing-here.jpg`],
    ['content', 'connection reset', `${A}/reset`],
    // Slow
    ['slow', 'slow-drip body (1 byte / 100 ms)', `${A}/drip`],
    ['slow', 'no answer at all', `${A}/hang`],
    ['slow', 'headers, then the body stalls', `${A}/hang-body`],
  ];
  return list.map(([category, name, url]) => ({ category, name, url }));
}
