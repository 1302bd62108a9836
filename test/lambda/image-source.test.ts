import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { lambdaImageFetcher } from '../../lambda/shared/image-source.js';
import { isProblemKind } from '../../lambda/shared/problem.js';
import { failure } from '../helpers/errors.js';
import { sample } from '../helpers/images.js';

const lambda = mockClient(LambdaClient);
const payload = (value: unknown) => Buffer.from(JSON.stringify(value)) as unknown as Uint8Array;

describe('lambdaImageFetcher (proxy -> fetch-image function)', () => {
  beforeEach(() => lambda.reset());

  it('invokes the function with {url} and decodes the bytes', async () => {
    const jpeg = sample(3);
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload({ ok: true, bytesBase64: jpeg.toString('base64'), contentLength: jpeg.length }) as never });
    const bytes = await lambdaImageFetcher('fetch-fn', new LambdaClient({ region: 'eu-west-1' })).fetch('https://img.example/a.jpg');
    expect(bytes.equals(jpeg)).toBe(true);
    const call = lambda.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(call.FunctionName).toBe('fetch-fn');
    expect(JSON.parse(Buffer.from(call.Payload as Uint8Array).toString())).toEqual({ url: 'https://img.example/a.jpg' });
  });

  it('turns a refusal into the same 400 problem the in-process fetcher throws', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload({ ok: false, problem: { kind: 'image-url-rejected', detail: 'image.url resolves to a loopback address' } }) as never });
    const error = await failure(lambdaImageFetcher('f', new LambdaClient({ region: 'eu-west-1' })).fetch('http://127.0.0.1/'));
    expect(error.status).toBe(400);
    expect(error.errors?.[0]).toEqual({ field: 'image.url', reason: 'resolves to a loopback address' });
  });

  it.each([
    ['a function error', { StatusCode: 200, FunctionError: 'Unhandled', Payload: payload({ errorMessage: 'x' }) }, 502],
    ['garbage', { StatusCode: 200, Payload: Buffer.from('nope') }, 502],
    ['an unknown problem kind', { StatusCode: 200, Payload: payload({ ok: false, problem: { kind: 'teapot', detail: 'x' } }) }, 502],
    // Prototype keys pass `kind in PROBLEM_KINDS`; an own-property check refuses them (issue 10, point 9).
    ['the prototype key "constructor" as kind', { StatusCode: 200, Payload: payload({ ok: false, problem: { kind: 'constructor', detail: 'x' } }) }, 502],
    ['the prototype key "toString" as kind', { StatusCode: 200, Payload: payload({ ok: false, problem: { kind: 'toString', detail: 'x' } }) }, 502],
    ['the prototype key "__proto__" as kind', { StatusCode: 200, Payload: payload({ ok: false, problem: { kind: '__proto__', detail: 'x' } }) }, 502],
  ])('maps %s to %i', async (_name, output, status) => {
    lambda.on(InvokeCommand).resolves(output as never);
    expect((await failure(lambdaImageFetcher('f', new LambdaClient({ region: 'eu-west-1' })).fetch('https://a.example/x.jpg'))).status).toBe(status);
  });

  it('isProblemKind accepts the listed kinds only, never inherited properties', () => {
    expect(isProblemKind('image-url-rejected')).toBe(true);
    for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', 'teapot', 1, null]) expect(isProblemKind(key)).toBe(false);
  });

  it('maps throttling to 503 with Retry-After', async () => {
    lambda.on(InvokeCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }));
    const error = await failure(lambdaImageFetcher('f', new LambdaClient({ region: 'eu-west-1' })).fetch('https://a.example/x.jpg'));
    expect(error.status).toBe(503);
    expect(error.headers).toEqual({ 'retry-after': '1' });
  });
});
