/**
 * `npm run compare-mode`: the operator's switch back to the table is refused unless the deployed
 * table was calibrated on the running image and a fresh check agrees (Lambda and ECS mocked).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTasksCommand, ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { InvokeCommand, LambdaClient, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseCompareModeArgs, runCompareMode, UsageError } from '../../scripts/compare-mode.js';

const lambdaMock = mockClient(LambdaClient);
const ecsMock = mockClient(ECSClient);
const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;
const dir = mkdtempSync(join(tmpdir(), 'face-compare-mode-'));
writeFileSync(
  join(dir, 'cdk-outputs.json'),
  JSON.stringify({
    'FaceVerification-prod-Service': { ClusterName: 'face-cluster', ServiceName: 'face-service' },
    'FaceVerification-prod-Api': { ApiUrl: 'https://x.example/prod/', CompareCheckFunctionName: 'face-verification-prod-compare-check' },
  }),
);

const payloads = () => lambdaMock.commandCalls(InvokeCommand).map((c) => JSON.parse(Buffer.from(c.args[0].input.Payload as Uint8Array).toString()) as Record<string, unknown>);
// The SDK types Payload as a blob adapter; the script only reads its bytes.
const blob = (text: string) => new TextEncoder().encode(text) as InvokeCommandOutput['Payload'];
const answer = (value: unknown) => ({ Payload: blob(JSON.stringify(value)), StatusCode: 200 });

async function run(argv: string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await runCompareMode(parseCompareModeArgs(argv), { lambda: new LambdaClient({ region: 'eu-west-1' }), ecs: new ECSClient({ region: 'eu-west-1' }), out: (l) => lines.push(l), cwd: dir });
  return { code, text: lines.join('\n') };
}

beforeEach(() => {
  lambdaMock.reset();
  ecsMock.reset();
  ecsMock.on(ListTasksCommand).resolves({ taskArns: ['arn:task/1'] });
  ecsMock.on(DescribeTasksCommand).resolves({ tasks: [{ lastStatus: 'RUNNING', containers: [{ name: 'face-verification-api', image: `111122223333.dkr.ecr.eu-west-1.amazonaws.com/face@${DIGEST_A}` }] }] });
});

describe('npm run compare-mode --table', () => {
  it('GIVEN the deployed table was calibrated on another image than the service runs WHEN run THEN it is refused and the table is not enabled', async () => {
    lambdaMock.on(InvokeCommand).resolves(answer({ mode: 'forward', switched: false, tableDigest: DIGEST_B }));
    const { code, text } = await run(['--stage', 'prod', '--table']);
    expect(code).toBe(1);
    expect(text).toContain(`calibrated on ${DIGEST_B}, the service runs ${DIGEST_A}`);
    expect(text).toContain('npm run calibrate -- --stage prod');
    expect(payloads()).toEqual([{ action: 'status' }]);
    expect(lambdaMock.commandCalls(InvokeCommand)[0]!.args[0].input.FunctionName).toBe('face-verification-prod-compare-check');
  });

  it('GIVEN the digests match and the check agrees WHEN run THEN the table is enabled', async () => {
    lambdaMock.on(InvokeCommand).callsFake((input: { Payload: Uint8Array }) => {
      const { action } = JSON.parse(Buffer.from(input.Payload).toString()) as { action: string };
      return answer(action === 'status' ? { mode: 'forward', switched: false, tableDigest: DIGEST_A } : { mode: 'table', switched: true, verdict: 'agree', pairs: 232, tableDigest: DIGEST_A });
    });
    const { code, text } = await run(['--stage', 'prod', '--table']);
    expect(code).toBe(0);
    expect(payloads()).toEqual([{ action: 'status' }, { action: 'enable-table' }]);
    expect(text).toContain('compare answers from the score table (232 pairs agreed');
  });

  it('GIVEN the digests match but the check finds a mismatch WHEN run THEN it exits 1 with the function\'s reason', async () => {
    lambdaMock.on(InvokeCommand).callsFake((input: { Payload: Uint8Array }) => {
      const { action } = JSON.parse(Buffer.from(input.Payload).toString()) as { action: string };
      return answer(action === 'status' ? { mode: 'forward', switched: false, tableDigest: DIGEST_A } : { mode: 'forward', switched: false, verdict: 'drift', refused: 'the table disagrees with the container on 3 of 232 pairs: recalibrate first' });
    });
    const { code, text } = await run(['--stage', 'prod', '--table']);
    expect(code).toBe(1);
    expect(text).toContain('refused: the table disagrees');
  });
});

describe('npm run compare-mode, other actions', () => {
  it('GIVEN --forward with a reason WHEN run THEN the function gets it', async () => {
    lambdaMock.on(InvokeCommand).resolves(answer({ mode: 'forward', switched: true }));
    const { code, text } = await run(['--stage', 'prod', '--forward', '--reason', 'trying image 1.5 by hand']);
    expect(code).toBe(0);
    expect(payloads()).toEqual([{ action: 'forward', reason: 'trying image 1.5 by hand' }]);
    expect(text).toContain('forwards every request to the container');
  });

  it('GIVEN the function fails WHEN run THEN exit 1 naming it', async () => {
    lambdaMock.on(InvokeCommand).resolves({ FunctionError: 'Unhandled', Payload: blob('{"errorMessage":"boom"}') });
    const { code, text } = await run(['--stage', 'prod', '--status']);
    expect(code).toBe(1);
    expect(text).toContain('face-verification-prod-compare-check failed');
  });

  it('GIVEN a bad command line WHEN parsed THEN a usage error', () => {
    expect(() => parseCompareModeArgs(['--stage', 'prod'])).toThrow(UsageError);
    expect(() => parseCompareModeArgs(['--stage', 'prod', '--table', '--forward'])).toThrow(/exactly one/);
    expect(() => parseCompareModeArgs(['--stage', 'prod', '--table', '--reason', 'x'])).toThrow(/--reason goes with --forward/);
    expect(() => parseCompareModeArgs(['--table'])).toThrow(/--stage/);
  });
});
