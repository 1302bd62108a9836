/**
 * The local gateway for the reliability suites: in this process (with a
 * scripted DNS resolver for `image.url`), or as `npm start` does it, in a child
 * process whose every stdout/stderr byte is captured and whose RSS is its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { HostResolver } from '../../../lambda/shared/image-fetch/index.js';
import { gatewayEnvFrom } from '../../../local/config.js';
import { startGateway, type RunningGateway } from '../../../local/gateway.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVER_ENTRY = fileURLToPath(new URL('../../../local/server.ts', import.meta.url));

export interface InProcessGateway extends RunningGateway {
  /** Every log line the gateway wrote (one JSON object per line). */
  readonly logs: string[];
}

/** Starts the real gateway in this process on an ephemeral port; `lookup` scripts DNS for image URLs. */
export async function startGatewayInProcess(env: Record<string, string>, lookup?: HostResolver): Promise<InProcessGateway> {
  const logs: string[] = [];
  const gateway = await startGateway(gatewayEnvFrom({ PORT: '0', ...env }), { log: (line) => logs.push(line), imageFetchLookup: lookup });
  return Object.assign(gateway, { logs });
}

export interface ChildGateway {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Everything the process wrote to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resident set size of the gateway process in KiB (Linux /proc). */
  rssKiB(): number;
  /** Exit code/signal once the process has ended, else undefined. */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** SIGTERM (graceful drain), then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns `local/server.ts` (what `npm start` runs) with `env` on a free port: node
 * itself with tsx's loader, so the pid is the gateway's (not an npx wrapper's).
 * Resolves once it prints its URL.
 */
export async function spawnGateway(env: Record<string, string>, options: { startTimeoutMs?: number; nodeArgs?: string[] } = {}): Promise<ChildGateway> {
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', SERVER_ENTRY], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const gone = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
    exit = { code, signal };
    resolve();
  }));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start within ${options.startTimeoutMs ?? 30_000} ms:\n${err}`)), options.startTimeoutMs ?? 30_000);
    const check = () => {
      const match = /listening on (http:\/\/[^\s]+)/.exec(err);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stderr!.on('data', check);
    void gone.then(() => {
      clearTimeout(timer);
      reject(new Error(`gateway exited during start (${JSON.stringify(exit)}):\n${err}`));
    });
  });

  return {
    url,
    port: Number(new URL(url).port),
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    rssKiB: () => rssKiBOf(child.pid!),
    exited: () => exit,
    async stop(graceMs = 8000) {
      if (exit) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** VmRSS of a process in KiB, from /proc/<pid>/status (Linux); NaN elsewhere or once it has ended. */
export function rssKiBOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}
