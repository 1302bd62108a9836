/**
 * The image fetcher against real HTTP(S) servers on 127.0.0.0/8. Loopback is
 * refused by the policy, so each test opens only what it needs through the
 * allow-list; host names are resolved by an injected resolver that answers
 * with loopback addresses (no real DNS, no traffic off this machine).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  IMAGE_FETCH_USER_AGENT,
  createImageFetcher,
  type HostResolver,
  type ImageFetchConfig,
} from '../../../lambda/shared/image-fetch/index.js';
import { failure } from '../../helpers/errors.js';

const JPEG = readFileSync(path.join(process.cwd(), 'node_modules/@vladmandic/face-api/demo/sample1.jpg'));
const PNG = readFileSync(path.join(process.cwd(), 'node_modules/@vladmandic/face-api/demo/facemesh.png'));
const JPEG_SIGNATURE = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);
const CHUNK = Buffer.alloc(64 * 1024);

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly localAddress: string;
}

/** A test image server; records every request and every socket's fate. */
class ImageServer {
  readonly seen: Seen[] = [];
  connections = 0;
  /** Per route: resolves when the response's socket closes, with bytes written and whether the response was ended. */
  readonly closed = new Map<string, Promise<{ written: number; finished: boolean }>>();
  private readonly server: http.Server;
  port = 0;

  constructor(
    readonly host: string,
    routes: Record<string, (req: http.IncomingMessage, res: http.ServerResponse, server: ImageServer) => void>,
  ) {
    this.server = http.createServer((req, res) => {
      this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, localAddress: req.socket.localAddress ?? '' });
      const pathname = new URL(req.url ?? '/', 'http://x').pathname;
      const route = routes[pathname];
      if (!route) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      route(req, res, this);
    });
    this.server.on('connection', () => {
      this.connections += 1;
    });
  }

  origin(host = this.host): string {
    return `http://${host}:${this.port}`;
  }

  async listen(port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Streams `total` bytes (JPEG signature first) as fast as the client reads, noting how far it got. */
  stream(key: string, res: http.ServerResponse, total: number, headers: http.OutgoingHttpHeaders = {}): void {
    res.writeHead(200, { 'content-type': 'image/jpeg', ...headers });
    res.flushHeaders();
    let written = 0;
    const done = new Promise<{ written: number; finished: boolean }>((resolve) => {
      res.socket?.once('close', () => resolve({ written, finished: res.writableEnded }));
    });
    this.closed.set(key, done);
    const pump = (): void => {
      while (written < total) {
        const chunk = written === 0 ? Buffer.concat([JPEG_SIGNATURE, CHUNK]) : CHUNK;
        written += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    if (total > 0) pump();
  }
}

function fetcher(config: Partial<ImageFetchConfig> = {}) {
  return createImageFetcher({ allowCidrs: ['127.0.0.1/32'], totalTimeoutMs: 5_000, ...config });
}


/** A resolver that answers from a table and counts its calls. */
function tableResolver(table: Record<string, string[] | (() => string[])>): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string) => {
    calls.push(hostname);
    const entry = table[hostname];
    if (entry === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    const addresses = typeof entry === 'function' ? entry() : entry;
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

const redirect = (location: string, extra: http.OutgoingHttpHeaders = {}) =>
  (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(302, { location, ...extra }).end();
  };

let main: ImageServer; // 127.0.0.1
let second: ImageServer; // 127.0.0.2
const pending = new Set<http.ServerResponse>();

beforeAll(async () => {
  main = new ImageServer('127.0.0.1', {
    '/img.jpg': (_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(JPEG),
    '/img.png': (_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(PNG),
    '/octet': (_req, res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(JPEG),
    '/chunked.jpg': (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.write(JPEG.subarray(0, 1000));
      res.end(JPEG.subarray(1000));
    },
    '/html': (_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end('<!doctype html><html><body>hi</body></html>'),
    '/gif': (_req, res) => res.writeHead(200, { 'content-type': 'image/gif' }).end(Buffer.from('GIF89a\x01\x00\x01\x00')),
    '/empty': (_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(),
    '/500': (_req, res) => res.writeHead(500).end('boom'),
    '/chain': (req, res) => {
      const n = Number(new URL(req.url ?? '', 'http://x').searchParams.get('n'));
      if (n > 0) res.writeHead(302, { location: `/chain?n=${n - 1}` }).end();
      else res.writeHead(200, { 'content-type': 'image/jpeg' }).end(JPEG);
    },
    '/relative': redirect('img.jpg'),
    '/no-location': (_req, res) => res.writeHead(302).end(),
    '/to-file': redirect('file:///etc/passwd'),
    '/cookie': redirect('/echo', { 'set-cookie': 'session=s3cr3t; Path=/; HttpOnly' }),
    '/echo': (_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg', 'set-cookie': 'again=1' }).end(JPEG),
    '/huge': (_req, res, s) => s.stream('/huge', res, 64 * 1024 * 1024),
    '/exact': (_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(JPEG),
    '/declared-huge': (_req, res, s) => {
      s.stream('/declared-huge', res, 0, { 'content-length': String(100 * 1024 * 1024) });
      res.write(JPEG_SIGNATURE);
      pending.add(res);
    },
    '/slow': (_req, res, s) => {
      s.stream('/slow', res, 0);
      res.write(JPEG_SIGNATURE);
      let drips = 0;
      const timer = setInterval(() => {
        drips += 1;
        if (drips > 100 || res.destroyed) {
          clearInterval(timer);
          res.end();
          return;
        }
        res.write(Buffer.alloc(1));
      }, 50);
      res.on('close', () => clearInterval(timer));
    },
    '/hang': (_req, res) => {
      pending.add(res);
    },
  });
  await main.listen();
  second = new ImageServer('127.0.0.2', {
    '/img.jpg': (_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(JPEG),
    '/to-loopback-literal': redirect(`${main.origin()}/img.jpg`),
    '/to-internal-name': redirect(`http://internal.test:${main.port}/img.jpg`),
  });
  // The second server shares main's port, so a rebinding answer would reach main.
  await second.listen(main.port);
});

afterAll(async () => {
  for (const res of pending) res.destroy();
  await Promise.all([main.close(), second.close()]);
});

beforeEach(() => {
  main.seen.length = 0;
  second.seen.length = 0;
  main.connections = 0;
  second.connections = 0;
});

describe('downloading from an allowed address', () => {
  it('returns exactly the bytes of a real JPEG, sending a fixed identity and nothing else', async () => {
    const bytes = await fetcher().fetch(`${main.origin()}/img.jpg?size=large#fragment`);
    expect(bytes.equals(JPEG)).toBe(true);
    expect(main.seen).toHaveLength(1);
    const [req] = main.seen;
    expect(req?.method).toBe('GET');
    expect(req?.url).toBe('/img.jpg?size=large');
    expect(req?.headers['user-agent']).toBe(IMAGE_FETCH_USER_AGENT);
    expect(req?.headers.cookie).toBeUndefined();
    expect(req?.headers.authorization).toBeUndefined();
  });

  it('accepts a PNG, a chunked body, and a JPEG served with the wrong Content-Type', async () => {
    const f = fetcher();
    expect((await f.fetch(`${main.origin()}/img.png`)).equals(PNG)).toBe(true);
    expect((await f.fetch(`${main.origin()}/chunked.jpg`)).equals(JPEG)).toBe(true);
    expect((await f.fetch(`${main.origin()}/octet`)).equals(JPEG)).toBe(true);
  });

  it('refuses the same server as a loopback address without the allow-list', async () => {
    const err = await failure(createImageFetcher().fetch(`${main.origin()}/img.jpg`));
    expect(err.kind).toBe('image-url-rejected');
    expect(err.message).toBe('image.url points to a loopback address');
    const viaName = await failure(
      createImageFetcher({ lookup: tableResolver({ 'images.test': ['127.0.0.1'] }) }).fetch('http://images.test/img.jpg'),
    );
    expect(viaName.message).toBe('image.url resolves to a loopback address');
    expect(main.connections).toBe(0);
  });

  it('reaches an IPv6 literal only through the allow-list', async (ctx) => {
    const v6 = new ImageServer('::1', { '/img.jpg': (_req, res) => res.writeHead(200).end(JPEG) });
    try {
      await v6.listen();
    } catch {
      ctx.skip(); // no IPv6 loopback on this machine
    }
    try {
      const url = `http://[::1]:${v6.port}/img.jpg`;
      expect((await fetcher({ allowCidrs: ['::1/128'] }).fetch(url)).equals(JPEG)).toBe(true);
      const err = await failure(fetcher().fetch(url));
      expect(err.message).toBe('image.url points to a loopback address');
      expect(v6.seen).toHaveLength(1);
    } finally {
      await v6.close();
    }
  });
});

describe('DNS answers', () => {
  it('refuses an answer that mixes public and private addresses, without connecting', async () => {
    const lookup = tableResolver({ 'mixed.test': ['8.8.8.8', '127.0.0.1'] });
    const err = await failure(fetcher({ lookup }).fetch(`http://mixed.test:${main.port}/img.jpg`));
    expect(err.kind).toBe('image-url-rejected');
    // 127.0.0.1 is allow-listed here, so the public address trips the port rule instead.
    expect(err.message).toBe(`image.url uses port ${main.port}; only ports 80 and 443 are fetched`);
    const plain = await failure(createImageFetcher({ lookup }).fetch('http://mixed.test/img.jpg'));
    expect(plain.message).toBe('image.url resolves to a loopback address');
    expect(main.connections).toBe(0);
  });

  it('pins the connection to the checked address when the answer changes between lookups', async () => {
    // First answer: 127.0.0.2 (allowed); every later answer: 127.0.0.1 (refused).
    // Both servers listen on the same port, so a second resolution would land on `main`.
    let answers = 0;
    const lookup = tableResolver({ 'rebind.test': () => (answers++ === 0 ? ['127.0.0.2'] : ['127.0.0.1']) });
    const f = createImageFetcher({ allowCidrs: ['127.0.0.2/32'], lookup, totalTimeoutMs: 5_000 });
    const bytes = await f.fetch(`http://rebind.test:${main.port}/img.jpg`);
    expect(bytes.equals(JPEG)).toBe(true);
    expect(lookup.calls).toEqual(['rebind.test']); // resolved once
    expect(second.seen.map((s) => [s.localAddress, s.headers.host])).toEqual([['127.0.0.2', `rebind.test:${main.port}`]]);
    expect(main.connections).toBe(0);
    // The next fetch gets the rebinding answer and is refused before any connection.
    const err = await failure(f.fetch(`http://rebind.test:${main.port}/img.jpg`));
    expect(err.message).toBe('image.url resolves to a loopback address');
    expect(main.connections).toBe(0);
  });

  it('reports a name that does not resolve as a failed download', async () => {
    const err = await failure(fetcher({ lookup: tableResolver({}) }).fetch('https://nowhere.test/a.jpg'));
    expect(err.kind).toBe('image-fetch-failed');
    expect(err.message).toBe('image.url host name could not be resolved (ENOTFOUND)');
  });

  it('refuses a non-standard port before asking DNS when there is no allow-list', async () => {
    const lookup = tableResolver({ 'images.test': ['8.8.8.8'] });
    const err = await failure(createImageFetcher({ lookup }).fetch('https://images.test:8443/a.jpg'));
    expect(err.message).toBe('image.url uses port 8443; only ports 80 and 443 are fetched');
    expect(lookup.calls).toEqual([]);
  });
});

describe('redirects', () => {
  it('follows a chain of 3 redirects and refuses a 4th', async () => {
    const f = fetcher();
    expect((await f.fetch(`${main.origin()}/chain?n=3`)).equals(JPEG)).toBe(true);
    expect(main.seen.map((s) => s.url)).toEqual(['/chain?n=3', '/chain?n=2', '/chain?n=1', '/chain?n=0']);
    main.seen.length = 0;
    const err = await failure(f.fetch(`${main.origin()}/chain?n=4`));
    expect(err.kind).toBe('image-fetch-failed');
    expect(err.message).toBe('image.url redirected more than 3 times');
    expect(main.seen).toHaveLength(4); // the 5th hop is never requested
  });

  it('resolves a relative Location against the current URL', async () => {
    expect((await fetcher().fetch(`${main.origin()}/relative`)).equals(JPEG)).toBe(true);
    expect(main.seen.map((s) => s.url)).toEqual(['/relative', '/img.jpg']);
  });

  it('refuses a redirect from an allowed host to a refused address literal', async () => {
    const f = createImageFetcher({ allowCidrs: ['127.0.0.2/32'] });
    expect((await f.fetch(`${second.origin()}/img.jpg`)).equals(JPEG)).toBe(true);
    const err = await failure(f.fetch(`${second.origin()}/to-loopback-literal`));
    expect(err.kind).toBe('image-url-rejected');
    expect(err.message).toBe('image.url redirects to a URL that points to a loopback address');
    expect(main.connections).toBe(0);
  });

  it('re-resolves and re-checks a redirect to a host name', async () => {
    const lookup = tableResolver({ 'internal.test': ['127.0.0.1'] });
    const err = await failure(createImageFetcher({ allowCidrs: ['127.0.0.2/32'], lookup }).fetch(`${second.origin()}/to-internal-name`));
    expect(err.message).toBe('image.url redirects to a URL that resolves to a loopback address');
    expect(lookup.calls).toEqual(['internal.test']);
    expect(main.connections).toBe(0);
  });

  it('refuses a redirect to another scheme or without a Location', async () => {
    const toFile = await failure(fetcher().fetch(`${main.origin()}/to-file`));
    expect(toFile.kind).toBe('image-url-rejected');
    expect(toFile.message).toBe('image.url redirects to a URL that is not an http or https URL');
    const noLocation = await failure(fetcher().fetch(`${main.origin()}/no-location`));
    expect(noLocation.kind).toBe('image-fetch-failed');
    expect(noLocation.message).toBe('image.url answered 302 without a Location');
  });

  it('sends no Cookie or Authorization after a redirect that sets a cookie', async () => {
    const f = fetcher();
    expect((await f.fetch(`${main.origin()}/cookie`)).equals(JPEG)).toBe(true);
    expect((await f.fetch(`${main.origin()}/echo`)).equals(JPEG)).toBe(true);
    expect(main.seen.map((s) => s.url)).toEqual(['/cookie', '/echo', '/echo']);
    for (const req of main.seen) {
      expect(req.headers.cookie).toBeUndefined();
      expect(req.headers.authorization).toBeUndefined();
      expect(req.headers['proxy-authorization']).toBeUndefined();
      expect(req.headers['user-agent']).toBe(IMAGE_FETCH_USER_AGENT);
      expect(req.method).toBe('GET');
    }
  });
});

describe('what the body must be', () => {
  it('refuses HTML served as image/jpeg, a GIF, and an empty body', async () => {
    for (const route of ['/html', '/gif', '/empty']) {
      const err = await failure(fetcher().fetch(`${main.origin()}${route}`));
      expect(err.kind).toBe('image-fetch-failed');
      expect(err.message).toBe('image.url did not return a JPEG or PNG image');
    }
  });

  it('refuses a non-2xx status, naming it', async () => {
    const notFound = await failure(fetcher().fetch(`${main.origin()}/missing.jpg`));
    expect(notFound.kind).toBe('image-fetch-failed');
    expect(notFound.message).toBe('image.url answered with HTTP status 404');
    expect((await failure(fetcher().fetch(`${main.origin()}/500`))).message).toBe('image.url answered with HTTP status 500');
  });

  it('accepts an image of exactly the cap and refuses one byte more', async () => {
    expect((await fetcher({ maxBytes: JPEG.length }).fetch(`${main.origin()}/exact`)).equals(JPEG)).toBe(true);
    const declared = await failure(fetcher({ maxBytes: JPEG.length - 1 }).fetch(`${main.origin()}/exact`));
    expect(declared.message).toBe(`image.url image is larger than ${JPEG.length - 1} bytes`);
    const streamed = await failure(fetcher({ maxBytes: JPEG.length - 1 }).fetch(`${main.origin()}/chunked.jpg`));
    expect(streamed.message).toBe(`image.url image is larger than ${JPEG.length - 1} bytes`);
  });

  it('aborts a body streamed past the default 4 MiB cap and closes the socket', async () => {
    const started = Date.now();
    const err = await failure(fetcher().fetch(`${main.origin()}/huge`));
    expect(err.kind).toBe('image-fetch-failed');
    expect(err.message).toBe('image.url image is larger than 4194304 bytes');
    const closed = await main.closed.get('/huge');
    expect(closed?.finished).toBe(false); // the server never got to send its 64 MiB
    expect(closed?.written).toBeLessThan(32 * 1024 * 1024);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('refuses early on a Content-Length over the cap and closes the socket', async () => {
    const started = Date.now();
    const err = await failure(fetcher().fetch(`${main.origin()}/declared-huge`));
    expect(err.message).toBe('image.url image is larger than 4194304 bytes');
    await main.closed.get('/declared-huge'); // the server sees the socket close while it still owes 100 MiB
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('timeouts', () => {
  it('stops a slow-drip body at the total timeout and closes the socket', async () => {
    const started = Date.now();
    const err = await failure(fetcher({ totalTimeoutMs: 500 }).fetch(`${main.origin()}/slow`));
    const elapsed = Date.now() - started;
    expect(err.kind).toBe('image-fetch-failed');
    expect(err.message).toBe('image.url did not finish downloading within 500 ms');
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(2_000);
    const closed = await main.closed.get('/slow');
    expect(closed?.finished).toBe(false);
  });

  it('stops waiting for a server that never answers', async () => {
    const started = Date.now();
    const err = await failure(fetcher({ totalTimeoutMs: 400 }).fetch(`${main.origin()}/hang`));
    expect(err.message).toBe('image.url did not finish downloading within 400 ms');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('applies the connect timeout to a TLS handshake that never completes', async () => {
    const silent = net.createServer(() => undefined); // accepts TCP, never speaks TLS
    const sockets = new Set<net.Socket>();
    silent.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const started = Date.now();
      const err = await failure(fetcher({ connectTimeoutMs: 300, totalTimeoutMs: 5_000 }).fetch(`https://127.0.0.1:${port}/a.jpg`));
      expect(err.kind).toBe('image-fetch-failed');
      expect(err.message).toBe('image.url did not accept a connection within 300 ms');
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(sockets.size).toBe(1);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('TLS', () => {
  let dir: string | undefined;
  let cert: { key: Buffer; cert: Buffer } | undefined;

  beforeAll(() => {
    try {
      dir = mkdtempSync(path.join(tmpdir(), 'image-fetch-tls-'));
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
        '-days', '1', '-subj', '/CN=images.test', '-addext', 'subjectAltName=DNS:images.test',
      ], { stdio: 'ignore' });
      cert = { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) };
    } catch {
      cert = undefined; // no openssl: the test below is skipped
    }
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sends the host name as SNI to the pinned address and still verifies the certificate', async (ctx) => {
    if (!cert) return ctx.skip();
    const sni: string[] = [];
    const server = https.createServer(
      {
        ...cert,
        SNICallback: (servername, cb) => {
          sni.push(servername);
          cb(null, undefined);
        },
      },
      (_req, res) => res.end(JPEG),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const lookup = tableResolver({ 'images.test': ['127.0.0.1'] });
      const err = await failure(fetcher({ lookup }).fetch(`https://images.test:${port}/img.jpg`));
      expect(err.kind).toBe('image-fetch-failed');
      // Self-signed: refused, so certificate verification is on.
      expect(err.message).toBe('image.url TLS certificate could not be verified (DEPTH_ZERO_SELF_SIGNED_CERT)');
      expect(sni).toEqual(['images.test']);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
