/**
 * `npm run calibrate -- --stage <stage>`: the endpoint comes from cdk-outputs.json and the image
 * digest from the ECS service's running tasks (ECS mocked with aws-sdk-client-mock), measured
 * against a real scorer on 127.0.0.1.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTasksCommand, ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cosine, deployableTableProblem, ScoreTableSchema } from '../../lambda/shared/score-table.js';
import { runningImageDigest } from '../../scripts/calibration/deployment.js';
import { parseCalibrateArgs, runCalibrate } from '../../scripts/calibrate.js';

const ecsMock = mockClient(ECSClient);
const REPO = '111122223333.dkr.ecr.eu-west-1.amazonaws.com/face-verification-dev-image';
const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;

let server: Server;
let url: string;
let dir: string;
beforeAll(async () => {
  // floor(100 cos) for cos >= 0, -1 below; 400 for what the contract refuses.
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: { embedding1?: unknown; embedding2?: unknown } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString());
      } catch {
        return void res.writeHead(400).end('{}');
      }
      const valid = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
      const { embedding1: a, embedding2: b } = body;
      if (!valid(a) || !valid(b) || a.length !== b.length) return void res.writeHead(400, { 'content-type': 'application/json' }).end('{"status":400}');
      const c = cosine(a, b);
      const similarity = Number.isNaN(c) || c < 0 ? -1 : Math.min(100, Math.floor(100 * c));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ similarity }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  dir = mkdtempSync(join(tmpdir(), 'face-calibrate-'));
  writeFileSync(
    join(dir, 'cdk-outputs.json'),
    JSON.stringify({
      'FaceVerification-test-Service': { ClusterName: 'face-cluster', ServiceName: 'face-service' },
      'FaceVerification-test-Api': { ApiUrl: url },
    }),
  );
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const task = (digest: string, name = 'face-verification-api') => ({ lastStatus: 'RUNNING', containers: [{ name, image: `${REPO}@${digest}`, imageDigest: `sha256:${'c'.repeat(64)}` }] });

beforeEach(() => {
  ecsMock.reset();
  ecsMock.on(ListTasksCommand).resolves({ taskArns: ['arn:task/1', 'arn:task/2'] });
});

describe('calibrate --stage', () => {
  it('GIVEN a deployed stage WHEN calibrated THEN the table names the digest its running tasks pin, read from ECS, and is deployable', async () => {
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [task(DIGEST_A), task(DIGEST_A)] });
    const out = join(dir, 'table-a.json');
    const lines: string[] = [];
    const result = await runCalibrate(parseCalibrateArgs(['--stage', 'test', '--out', out, '--dimension', '16']), (l) => lines.push(l), { ecs: new ECSClient({ region: 'eu-west-1' }), cwd: dir });
    expect(result.ok, result.ok ? '' : result.reason).toBe(true);
    const table = ScoreTableSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
    expect((table as { calibration?: { imageDigest?: string; endpoint?: string } }).calibration).toMatchObject({ imageDigest: DIGEST_A, endpoint: url });
    expect(deployableTableProblem(table)).toBeUndefined();
    expect(lines.join('')).toContain(`stage test runs ${DIGEST_A} (2 task(s))`);
    // Read before and after the measurement, for the service and cluster named in the outputs file.
    const listed = ecsMock.commandCalls(ListTasksCommand);
    expect(listed).toHaveLength(2);
    expect(listed[0]!.args[0].input).toMatchObject({ cluster: 'face-cluster', serviceName: 'face-service', desiredStatus: 'RUNNING' });
  }, 60_000);

  it('GIVEN the image changes during the run WHEN calibrated THEN the run fails and the table is not marked calibrated', async () => {
    ecsMock.on(DescribeTasksCommand).resolvesOnce({ tasks: [task(DIGEST_A)] }).resolves({ tasks: [task(DIGEST_B)] });
    const out = join(dir, 'table-b.json');
    const result = await runCalibrate(parseCalibrateArgs(['--stage', 'test', '--out', out, '--dimension', '16']), () => undefined, { ecs: new ECSClient({ region: 'eu-west-1' }), cwd: dir });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toContain(`image changed during calibration (${DIGEST_A} -> ${DIGEST_B})`);
    expect(JSON.parse(readFileSync(out, 'utf8')).calibrated).toBe(false);
  }, 60_000);

  it('GIVEN tasks running two images WHEN the digest is read THEN it refuses until the deployment completes', async () => {
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [task(DIGEST_A), task(DIGEST_B)] });
    await expect(runningImageDigest(new ECSClient({ region: 'eu-west-1' }), { cluster: 'c', service: 's' })).rejects.toThrow(/run 2 different images .*wait until the deployment completes/);
  });

  it('GIVEN a tag-only image WHEN the digest is read THEN the digest ECS resolved is used', async () => {
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [{ lastStatus: 'RUNNING', containers: [{ name: 'face-verification-api', image: `${REPO}:latest`, imageDigest: DIGEST_B }] }] });
    expect(await runningImageDigest(new ECSClient({ region: 'eu-west-1' }), { cluster: 'c', service: 's' })).toEqual({ digest: DIGEST_B, tasks: 2 });
  });

  it('GIVEN --stage with --image-digest, or a digest that is not sha256 WHEN parsed THEN the command line is refused', () => {
    expect(() => parseCalibrateArgs(['--stage', 'test', '--image-digest', DIGEST_A, '--out', 'x.json'])).toThrow(/read from the deployment/);
    expect(() => parseCalibrateArgs(['--endpoint', url, '--image-digest', 'latest', '--out', 'x.json'])).toThrow(/sha256:<64 hex digits>/);
    expect(parseCalibrateArgs(['--endpoint', url, '--image-digest', DIGEST_A, '--out', 'x.json']).imageDigest).toBe(DIGEST_A);
  });
});
