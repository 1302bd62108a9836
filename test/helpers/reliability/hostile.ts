/**
 * fast-check generators of hostile request bodies for the three POST
 * operations, built as JSON *text* (so they can hold duplicate keys, deep
 * nesting, number tokens such as 1e400, truncation and invalid UTF-8), and an
 * oracle that predicts each answer from the contract itself: the zod schemas
 * (`lambda/shared/contract.ts`), the documented limits and content types.
 */
import fc from 'fast-check';
import { CompareFaceEmbeddingsRequestSchema, FaceImageRequestSchema, ImageSchema, VerifyFacesRequestSchema } from '../../../lambda/shared/contract.js';
import { checkImageDimensions } from '../../../lambda/shared/image-bytes.js';
import { LIMITS } from '../../../lambda/shared/limits.js';
import type { ProblemKind } from '../../../lambda/shared/problem.js';
import { jpegHeaderOnly, pngHeaderOnly, type ImageKit } from './images.js';

export type Endpoint = 'detect' | 'embed' | 'compare';

/** One generated request: the raw body, its Content-Type, and a short description of how it was built. */
export interface HostileRequest {
  readonly body: string | Buffer;
  /** `null`: no Content-Type header. */
  readonly contentType: string | null;
  readonly shape: string;
}

/** Content types and whether the API reads the body as JSON (README: "415 ... body not JSON"). */
export const CONTENT_TYPES: ReadonlyArray<{ readonly value: string | null; readonly json: boolean }> = [
  { value: 'application/json', json: true },
  { value: 'application/json; charset=utf-8', json: true },
  { value: 'APPLICATION/JSON', json: true },
  { value: 'application/problem+json', json: true },
  { value: 'application/vnd.api+json;v=2', json: true },
  { value: null, json: true },
  { value: 'text/plain', json: false },
  { value: 'application/x-www-form-urlencoded', json: false },
  { value: 'multipart/form-data; boundary=xyz', json: false },
  { value: 'application/jsonx', json: false },
  { value: 'image/jpeg', json: false },
  { value: 'application/xml', json: false },
];

/** Valid JSON number tokens, including ones that parse to Infinity, -0 or lose precision. */
export const NUMBER_TOKENS = [
  '0', '1', '-1', '10', '11', '1.0', '1e0', '1E1', '1.5', '-0', '0.0', '-0.0', '1e400', '-1e400', '1e-400',
  '5e-324', '1.7976931348623157e308', '9007199254740993', '123456789012345678901234567890', '1e308', '0.1',
] as const;
/** Tokens JSON does not allow (the body stops being JSON). */
const INVALID_TOKENS = ['NaN', 'Infinity', '-Infinity', '0x10', '01', '+1', '.5', '1.', '1e', '--1', 'undefined', "'a'", 'True'] as const;

const obj = (entries: ReadonlyArray<readonly [string, string]>): string => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;

/** Any hostile JSON value, as text. */
export const valueText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 3, arbitrary: fc.constantFrom(...NUMBER_TOKENS) },
  { weight: 1, arbitrary: fc.constantFrom(...INVALID_TOKENS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)) },
  { weight: 2, arbitrary: fc.constantFrom('"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"\\"', '""', 'true', 'false', 'null', '{}', '[]', '[null]', '{"":""}') },
);

const PNG_SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_SIG = Buffer.from([0xff, 0xd8, 0xff]);

/** Image bytes: real tiny images, header-only bombs, signatures followed by junk, truncated and padded files, foreign formats. */
export function imageBytes(kit: ImageKit): fc.Arbitrary<Buffer> {
  const dim = fc.oneof(
    fc.constantFrom(0, 1, 16, 8191, 8192, 8193, 6324, 6325, 65535, 2 ** 31, 2 ** 32 - 1),
    fc.integer({ min: 1, max: 9000 }),
    fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  );
  return fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(kit.tinyJpeg, kit.tinyPng, kit.onePixelPng) },
    { weight: 3, arbitrary: fc.constantFrom(...kit.disguised.map((d) => d.bytes)) },
    { weight: 2, arbitrary: fc.constantFrom(...kit.foreign.map((d) => d.bytes)) },
    { weight: 3, arbitrary: fc.tuple(dim, dim).map(([w, h]) => pngHeaderOnly(w, h)) },
    { weight: 2, arbitrary: fc.tuple(dim, dim).map(([w, h]) => jpegHeaderOnly(w, h)) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(JPEG_SIG, PNG_SIG), fc.uint8Array({ maxLength: 256 })).map(([sig, junk]) => Buffer.concat([sig, junk])) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom(kit.tinyJpeg, kit.tinyPng), fc.nat(), fc.uint8Array({ maxLength: 64 }))
        .map(([image, cut, pad]) => Buffer.concat([image.subarray(0, cut % (image.length + 1)), pad])),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  );
}

const BASE64_MUTATIONS = ['none', 'truncate', 'pad', 'whitespace', 'urlsafe', 'data-uri', 'unpadded', 'non-ascii', 'trailing', 'doubled'] as const;

/** The base64 of an image, sometimes damaged the ways clients damage it. */
export function base64Of(bytes: Buffer, mutation: (typeof BASE64_MUTATIONS)[number], n: number): string {
  const b = bytes.toString('base64');
  const at = b.length === 0 ? 0 : n % b.length;
  switch (mutation) {
    case 'none': return b;
    case 'truncate': return b.slice(0, Math.max(0, b.length - 1 - (n % 3)));
    case 'pad': return `${b}${'='.repeat(1 + (n % 3))}`;
    case 'whitespace': return `${b.slice(0, at)}${['\n', ' ', '\r\n', '\t'][n % 4]}${b.slice(at)}`;
    case 'urlsafe': return b.replace(/\+/g, '-').replace(/\//g, '_');
    case 'data-uri': return `data:image/jpeg;base64,${b}`;
    case 'unpadded': return b.replace(/=+$/, '');
    case 'non-ascii': return `${b.slice(0, at)}\u00e9${b.slice(at)}`;
    case 'trailing': return `${b}AAAA${'!?*'[n % 3]}`;
    case 'doubled': return b + b;
  }
}

/** URLs for `image.url`: random web URLs (DNS names; the suites resolve them all to loopback) and fixed hostile ones. */
const urlText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }).map((u) => JSON.stringify(u)) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        'http://127.0.0.1/', 'http://127.1/x.jpg', 'http://0x7f000001/', 'http://[::1]/', 'http://169.254.169.254/latest/meta-data/',
        'http://10.0.0.1/a.png', 'http://[fd00:ec2::254]/', 'http://0/', 'file:///etc/passwd', 'ftp://127.0.0.1/x', 'gopher://127.0.0.1:6379/_',
        'data:image/png;base64,iVBORw0KGgo=', 'javascript:alert(1)', 'http://', 'http:///x', 'http://[::1', '//127.0.0.1/', '/etc/passwd', '',
        'http://user:pass@127.0.0.1/', 'http://a.test@127.0.0.1/', 'http://127.0.0.1#@a.test/', 'http://localhost:22/', 'https://a.test:8443/',
      )
      .map((u) => JSON.stringify(u)),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.integer({ min: LIMITS.maxUrlLength - 30, max: LIMITS.maxUrlLength + 10 }).map((n) => JSON.stringify(`http://a.test/${'a'.repeat(n - 14)}`)) },
  { weight: 1, arbitrary: valueText },
);

const RAW_MUTATIONS = ['none', 'truncate', 'insert-byte', 'invalid-utf8', 'bom', 'trailing', 'wrap-deep', 'whitespace', 'twice'] as const;

/** Damages a body at the byte level; returns a Buffer when the result is not valid UTF-8. */
function mutateRaw(text: string, mutation: (typeof RAW_MUTATIONS)[number], n: number, byte: number): string | Buffer {
  const at = text.length === 0 ? 0 : n % text.length;
  switch (mutation) {
    case 'none': return text;
    case 'truncate': return text.slice(0, at);
    case 'insert-byte': return `${text.slice(0, at)}${String.fromCharCode(byte & 0x7f)}${text.slice(at)}`;
    case 'invalid-utf8': return Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80].slice(0, 1 + (byte % 7))), Buffer.from(text.slice(at))]);
    case 'bom': return `\ufeff${text}`;
    case 'trailing': return `${text}${[',', '}', ' garbage', '\u0000', ']'][byte % 5]}`;
    case 'wrap-deep': return '['.repeat(1 + (n % 3000)) + text + ']'.repeat(1 + (n % 3000));
    case 'whitespace': return ` \n\t${text}\r\n `;
    case 'twice': return text + text;
  }
}

// Unknown keys (prototype-pollution names included) with JSON values: they must be ignored.
export const extraEntry = fc.tuple(
  fc.constantFrom('extra', '__proto__', 'constructor', 'prototype', 'IMAGE', 'image ', ''),
  fc.oneof({ weight: 4, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null') }, { weight: 1, arbitrary: valueText }),
);

/** The value of an `image` (or `image1` / `image2`) field: objects with hostile `bytes` / `url`, or any hostile value. */
function imageValueText(kit: ImageKit): fc.Arbitrary<string> {
  const [bytesKey, urlKey] = Object.keys(ImageSchema.shape) as ['bytes', 'url'];
  const bytesText = fc.oneof(
    { weight: 5, arbitrary: fc.tuple(imageBytes(kit), mostlyNone(BASE64_MUTATIONS), fc.nat()).map(([b, m, n]) => JSON.stringify(base64Of(b, m, n))) },
    { weight: 1, arbitrary: valueText },
  );
  const imageText = fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.option(bytesText, { freq: 4 }), fc.option(fc.oneof(urlText, fc.constant('null')), { freq: 3 }), fc.option(extraEntry, { freq: 6 }), fc.boolean())
        .map(([bytes, url, extra, dup]) => {
          const entries: Array<[string, string]> = [];
          if (bytes !== null) entries.push([bytesKey, bytes]);
          if (url !== null) entries.push([urlKey, url]);
          if (extra !== null) entries.push(extra);
          if (dup && entries.length > 0) entries.push(entries[0]!); // duplicate key: JSON.parse keeps the last
          return obj(entries);
        }),
    },
    { weight: 1, arbitrary: valueText },
  );
  return imageText;
}

/** Bodies for detect-faces / get-face-embeddings (the same request schema). */
export function faceImageRequest(kit: ImageKit): fc.Arbitrary<HostileRequest> {
  const [imageKey, countKey] = Object.keys(FaceImageRequestSchema.shape) as ['image', 'maxFaceCount'];
  const [bytesKey, urlKey] = Object.keys(ImageSchema.shape) as ['bytes', 'url'];
  const imageText = imageValueText(kit);
  const countText = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: LIMITS.minFaceCount, max: LIMITS.maxFaceCount }).map(String) },
    { weight: 2, arbitrary: fc.constantFrom('0', '11', '-1', '1.0', '1.5', '1e1', '10.0', '2147483648', '1e400', '-0', 'null', '"5"', '[5]', 'true') },
    { weight: 1, arbitrary: valueText },
  );
  const shaped = fc
    .tuple(fc.option(imageText, { freq: 8 }), fc.option(countText, { freq: 2 }), fc.array(extraEntry, { maxLength: 1 }), mostlyNone(['none', 'dup-image', 'dup-count'] as const))
    .map(([image, count, extras, dup]) => {
      const entries: Array<[string, string]> = [];
      if (image !== null) entries.push([imageKey, image]);
      if (count !== null) entries.push([countKey, count]);
      entries.push(...extras);
      if (dup === 'dup-image') entries.push([imageKey, obj([[urlKey, JSON.stringify('http://127.0.0.1/')]])]);
      if (dup === 'dup-count') entries.push([countKey, '1']);
      return obj(entries);
    });
  // Well-formed bodies around real and hostile images: these reach the decompression-bomb check and the backend.
  const wellFormed = fc
    .tuple(imageBytes(kit), fc.option(fc.integer({ min: LIMITS.minFaceCount, max: LIMITS.maxFaceCount })), fc.boolean())
    .map(([bytes, count, withNullUrl]) =>
      obj([[imageKey, obj([[bytesKey, JSON.stringify(bytes.toString('base64'))], ...(withNullUrl ? [[urlKey, 'null'] as [string, string]] : [])])], ...(count === null ? [] : [[countKey, String(count)] as [string, string]])]),
    );
  return request(fc.oneof({ weight: 4, arbitrary: wellFormed }, { weight: 8, arbitrary: shaped }, { weight: 1, arbitrary: valueText }), 'face-image');
}

/** Bodies for compare-face-embeddings. */
export function compareRequest(): fc.Arbitrary<HostileRequest> {
  const [key1, key2] = Object.keys(CompareFaceEmbeddingsRequestSchema.shape) as ['embedding1', 'embedding2'];
  const element = fc.oneof(
    { weight: 6, arbitrary: fc.double({ min: -1, max: 1, noNaN: true }) },
    { weight: 1, arbitrary: fc.double() },
    { weight: 1, arbitrary: fc.constantFrom(0, -0, 5e-324, 1e308, -1e308, 1, -1) },
  );
  const vector = (min: number, max: number) => fc.array(element, { minLength: min, maxLength: max }).map((a) => JSON.stringify(a));
  const zeros = (n: number) => `[${Array(n).fill('0').join(',')}]`;
  const pair = fc.oneof(
    { weight: 5, arbitrary: fc.tuple(vector(128, 128), vector(128, 128)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant(zeros(128)), fc.oneof(fc.constant(zeros(128)), vector(128, 128))) },
    { weight: 2, arbitrary: fc.tuple(vector(0, 300), vector(0, 300)) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: LIMITS.maxEmbeddingLength - 3, max: LIMITS.maxEmbeddingLength + 3 }).map((n) => {
        const v = `[${Array(n).fill('0.5').join(',')}]`;
        return [v, v] as [string, string];
      }),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(
        fc.array(fc.constantFrom(...NUMBER_TOKENS, '"0.1"', 'null', 'true', '[]', '{}'), { minLength: 126, maxLength: 130 }).map((a) => `[${a.join(',')}]`),
        vector(128, 128),
      ),
    },
    { weight: 2, arbitrary: fc.tuple(valueText, fc.oneof(valueText, vector(128, 128))) },
  );
  const shaped = fc
    .tuple(pair, fc.constantFrom('both', 'both', 'both', 'only1', 'only2', 'swapped', 'dup1'), fc.array(extraEntry, { maxLength: 2 }))
    .map(([[a, b], layout, extras]) => {
      const entries: Array<[string, string]> = [];
      if (layout !== 'only2') entries.push([key1, a]);
      if (layout !== 'only1') entries.push([key2, b]);
      if (layout === 'swapped') entries.reverse();
      if (layout === 'dup1') entries.push([key1, zeros(3)]);
      entries.push(...extras);
      return obj(entries);
    });
  return request(fc.oneof({ weight: 8, arbitrary: shaped }, { weight: 1, arbitrary: valueText }), 'compare');
}

/** Three times in four no damage at all (so valid bodies keep reaching the backend), else one of the others. */
function mostlyNone<T extends string>(mutations: readonly T[]): fc.Arbitrary<T> {
  const others = mutations.filter((m) => m !== 'none');
  return fc.oneof({ weight: 3, arbitrary: fc.constant('none' as T) }, { weight: 1, arbitrary: fc.constantFrom(...others) });
}

export function request(text: fc.Arbitrary<string>, name: string): fc.Arbitrary<HostileRequest> {
  const contentType = fc.oneof({ weight: 12, arbitrary: fc.constant(CONTENT_TYPES[0]!) }, { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) });
  return fc
    .tuple(text, mostlyNone(RAW_MUTATIONS), fc.nat(), fc.nat({ max: 255 }), contentType)
    .map(([body, mutation, n, byte, type]) => ({
      body: mutateRaw(body, mutation, n, byte),
      contentType: type.value,
      shape: `${name}/${mutation}/${type.value ?? 'no content-type'}`,
    }));
}

/** What the contract says the answer must be. */
export interface Expected {
  readonly status: number;
  /** Acceptable problem kinds for a 4xx (any one of them). */
  readonly kinds?: readonly ProblemKind[];
}

/** What the compare oracle needs from the score table the gateway answers with (`ScoreTable`). */
export interface CompareRules {
  /** Required embedding length, or null for any. */
  readonly dimension: number | null;
  /** The answer for a zero vector: a score (200) or 'refuse' (400). */
  readonly zeroVector: number | 'refuse';
}

/**
 * The rules every operation shares before its own schema: size limits (10 MB API Gateway, 6 MB
 * Lambda), content type, an empty body, JSON syntax. Either the answer they decide, or the parsed body.
 */
export function transportAnswer(req: HostileRequest): Expected | { readonly parsed: unknown } {
  const type = CONTENT_TYPES.find((t) => t.value === req.contentType);
  const raw = typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body;
  if (raw.length > LIMITS.apiGatewayMaxBodyBytes) return { status: 413, kinds: ['payload-too-large'] };
  if (type && !type.json) return { status: 415, kinds: ['unsupported-media-type'] };
  if (raw.length === 0) return { status: 400, kinds: ['validation-error'] };
  const text = raw.toString('utf8');
  if (Buffer.byteLength(text, 'utf8') > LIMITS.maxRequestBodyBytes) return { status: 413, kinds: ['payload-too-large'] };
  try {
    return { parsed: JSON.parse(text) as unknown };
  } catch {
    return { status: 400, kinds: ['invalid-json'] };
  }
}

/**
 * The oracle: content type, size limits, JSON syntax, then the endpoint's zod
 * schema, then (image endpoints) the decompression-bomb rule on the decoded
 * bytes, or (compare, table mode) the score table's embedding length and zero-vector rule.
 * Image URLs are always refused in these suites (every name resolves to loopback).
 */
export function expectedAnswer(endpoint: Endpoint, req: HostileRequest, compare: CompareRules): Expected {
  const transport = transportAnswer(req);
  if ('status' in transport) return transport;
  const { parsed } = transport;
  if (endpoint === 'compare') {
    const result = CompareFaceEmbeddingsRequestSchema.safeParse(parsed);
    if (!result.success) return { status: 400, kinds: ['validation-error'] };
    const { embedding1, embedding2 } = result.data as { embedding1: number[]; embedding2: number[] };
    if (compare.dimension !== null && embedding1.length !== compare.dimension) return { status: 400, kinds: ['validation-error'] };
    const zero = embedding1.every((x) => x === 0) || embedding2.every((x) => x === 0);
    return zero && compare.zeroVector === 'refuse' ? { status: 400, kinds: ['validation-error'] } : { status: 200 };
  }
  const result = FaceImageRequestSchema.safeParse(parsed);
  if (!result.success) return { status: 400, kinds: ['validation-error'] };
  if (result.data.image.url) return { status: 400, kinds: ['image-url-rejected', 'image-fetch-failed'] };
  const check = checkImageDimensions(Buffer.from(result.data.image.bytes!, 'base64'));
  return check.ok ? { status: 200 } : { status: 400, kinds: ['image-rejected'] };
}

/** Bodies for verify-faces (extension): two images, each damaged as `image` is for the vendor operations. */
export function verifyFacesRequest(kit: ImageKit): fc.Arbitrary<HostileRequest> {
  const [key1, key2] = Object.keys(VerifyFacesRequestSchema.shape) as ['image1', 'image2'];
  const [bytesKey, urlKey] = Object.keys(ImageSchema.shape) as ['bytes', 'url'];
  const goodImage = fc.constantFrom(kit.tinyJpeg, kit.tinyPng, kit.onePixelPng).map((b) => obj([[bytesKey, JSON.stringify(b.toString('base64'))]]));
  const anyImage = fc.oneof({ weight: 3, arbitrary: imageValueText(kit) }, { weight: 2, arbitrary: goodImage });
  const shaped = fc
    .tuple(fc.option(anyImage, { freq: 8 }), fc.option(anyImage, { freq: 8 }), fc.array(extraEntry, { maxLength: 1 }), mostlyNone(['none', 'dup1', 'dup2', 'swapped'] as const))
    .map(([one, two, extras, dup]) => {
      const entries: Array<[string, string]> = [];
      if (one !== null) entries.push([key1, one]);
      if (two !== null) entries.push([key2, two]);
      entries.push(...extras);
      if (dup === 'dup1') entries.push([key1, obj([[urlKey, JSON.stringify('http://169.254.169.254/')]])]);
      if (dup === 'dup2') entries.push([key2, obj([[urlKey, JSON.stringify('http://127.0.0.1/')]])]);
      if (dup === 'swapped') entries.reverse();
      return obj(entries);
    });
  // Well-formed bodies around real and hostile images: these reach the decompression-bomb check and the backend.
  const wellFormed = fc
    .tuple(imageBytes(kit), imageBytes(kit))
    .map(([a, b]) => obj([[key1, obj([[bytesKey, JSON.stringify(a.toString('base64'))]])], [key2, obj([[bytesKey, JSON.stringify(b.toString('base64'))]])]]));
  return request(fc.oneof({ weight: 4, arbitrary: wellFormed }, { weight: 8, arbitrary: shaped }, { weight: 1, arbitrary: valueText }), 'verify-faces');
}

/**
 * The verify-faces oracle: the same transport rules ({@link transportAnswer}), then VerifyFacesRequestSchema,
 * then each image as `image` is judged (URLs always refused here, the decompression-bomb rule on bytes).
 * The suites' backend finds a face on every image, so two usable images answer 200.
 */
export function expectedVerifyAnswer(req: HostileRequest): Expected {
  const transport = transportAnswer(req);
  if ('status' in transport) return transport;
  const { parsed } = transport;
  const result = VerifyFacesRequestSchema.safeParse(parsed);
  if (!result.success) return { status: 400, kinds: ['validation-error'] };
  const usable = [result.data.image1, result.data.image2].every((image) => !image.url && checkImageDimensions(Buffer.from(image.bytes!, 'base64')).ok);
  return usable ? { status: 200 } : { status: 400, kinds: ['image-url-rejected', 'image-fetch-failed', 'image-rejected'] };
}
