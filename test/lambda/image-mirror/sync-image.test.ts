/** `npm run sync-image`: argument parsing, function-name resolution, and the invoke with a mocked Lambda API. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { formatLogTail, parseSyncImageArgs, resolveFunctionName, runSyncImage, UsageError } from '../../../scripts/sync-image.js';

const lambdaMock = mockClient(LambdaClient);
beforeEach(() => lambdaMock.reset());

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
// The SDK types Payload as a blob adapter; the script only reads its bytes.
const payload = (value: unknown): InvokeCommandOutput['Payload'] => new TextEncoder().encode(JSON.stringify(value)) as InvokeCommandOutput['Payload'];
const DIGEST = `sha256:${'c'.repeat(64)}`;

describe('parseSyncImageArgs', () => {
  it('reads --stage, --region, --function-name, --outputs and --force', () => {
    expect(parseSyncImageArgs(['--stage', 'dev'])).toEqual({ stage: 'dev', outputsFile: 'cdk-outputs.json', force: false });
    expect(parseSyncImageArgs(['--stage=prod', '--region', 'eu-central-1', '--function-name', 'fn', '--outputs', 'out.json', '--force'])).toEqual({
      stage: 'prod',
      region: 'eu-central-1',
      functionName: 'fn',
      outputsFile: 'out.json',
      force: true,
    });
  });

  it('refuses a missing or invalid stage and unknown flags', () => {
    expect(() => parseSyncImageArgs([])).toThrow(new UsageError('--stage is required'));
    expect(() => parseSyncImageArgs(['--stage', 'bad stage!'])).toThrow(/must start with a letter/);
    expect(() => parseSyncImageArgs(['--stage', 'dev', '--tag', 'x'])).toThrow(UsageError);
  });
});

describe('resolveFunctionName', () => {
  it('prefers --function-name, then ImageMirrorFunctionName of the stage stack in the outputs file, then the default name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sync-image-'));
    const args = parseSyncImageArgs(['--stage', 'prod']);
    expect(resolveFunctionName(args, dir)).toEqual({ name: 'face-verification-prod-image-mirror', source: 'default' });

    writeFileSync(
      join(dir, 'cdk-outputs.json'),
      JSON.stringify({ 'FaceVerification-dev': { ImageMirrorFunctionName: 'fn-dev' }, 'FaceVerification-prod': { ImageMirrorFunctionName: 'fn-prod', ApiUrl: 'x' } }),
    );
    expect(resolveFunctionName(args, dir)).toEqual({ name: 'fn-prod', source: 'outputs' });
    expect(resolveFunctionName({ ...args, functionName: 'explicit' }, dir)).toEqual({ name: 'explicit', source: 'flag' });
    // A stage with no matching stack among several: the default name, not a guess.
    expect(resolveFunctionName({ ...args, stage: 'qa' }, dir).source).toBe('default');
  });
});

describe('runSyncImage', () => {
  it('invokes the function with {"action":"sync"} and LogType Tail, then prints the progress lines and the result', async () => {
    const log = [
      'START RequestId: 1 Version: $LATEST',
      JSON.stringify({ level: 'INFO', message: 'layer progress', layer: 'sha256:0123456789ab', bytesDone: 5242880, bytesTotal: 20971520, percent: 25 }),
      JSON.stringify({ level: 'INFO', message: 'image mirrored', digest: DIGEST }),
      'END RequestId: 1',
    ].join('\n');
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      LogResult: b64(log),
      Payload: payload({ digest: DIGEST, copied: 3, skipped: 1, bytesCopied: 20971520, rolledOut: false, imageUri: 'x' }),
    });
    const out: string[] = [];
    const code = await runSyncImage(parseSyncImageArgs(['--stage', 'dev', '--function-name', 'mirror-fn']), {
      lambda: new LambdaClient({ region: 'eu-central-1' }),
      out: (l) => out.push(l),
    });
    expect(code).toBe(0);
    const input = lambdaMock.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(input).toMatchObject({ FunctionName: 'mirror-fn', InvocationType: 'RequestResponse', LogType: 'Tail' });
    expect(JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array))).toEqual({ action: 'sync' });
    expect(out).toContain('INFO  layer progress sha256:0123456789ab 5.0 MiB / 20.0 MiB (25 %)');
    expect(out).toContain(`INFO  image mirrored ${DIGEST}`);
    expect(out.at(-1)).toMatch(new RegExp(`^synced in [\\d.]+ s: ${DIGEST} \\(copied 3 blobs, 20\\.0 MiB; skipped 1; no ECS deployment\\)$`));
  });

  it('returns 1 and prints the error type and message when the function failed', async () => {
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      LogResult: b64(JSON.stringify({ level: 'ERROR', message: 'image mirror failed', code: 'TAG_NOT_FOUND', reason: 'tag 9 was not found' })),
      Payload: payload({ errorType: 'MirrorError', errorMessage: 'tag 9 was not found' }),
    });
    const out: string[] = [];
    const code = await runSyncImage(parseSyncImageArgs(['--stage', 'dev', '--force']), { lambda: new LambdaClient({ region: 'eu-central-1' }), out: (l) => out.push(l) });
    expect(code).toBe(1);
    expect(lambdaMock.commandCalls(InvokeCommand)[0]!.args[0].input.FunctionName).toBe('face-verification-dev-image-mirror');
    expect(JSON.parse(new TextDecoder().decode(lambdaMock.commandCalls(InvokeCommand)[0]!.args[0].input.Payload as Uint8Array))).toEqual({ action: 'sync', force: true });
    expect(out).toContain('ERROR image mirror failed [TAG_NOT_FOUND] tag 9 was not found');
    expect(out.at(-1)).toMatch(/^sync failed after [\d.]+ s: MirrorError: tag 9 was not found$/);
  });

  it('formatLogTail keeps lines it cannot parse (the 4 KB tail may start mid-line)', () => {
    expect(formatLogTail(b64('e":"cut"}\nREPORT RequestId: 1 Duration: 5 ms\n'))).toEqual(['e":"cut"}', 'REPORT RequestId: 1 Duration: 5 ms']);
    expect(formatLogTail(undefined)).toEqual([]);
  });
});
