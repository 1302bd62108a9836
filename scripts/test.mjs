#!/usr/bin/env node
/**
 * `npm test` (and test:browser, test:reliability): runs vitest inside a
 * network namespace that has only a loopback interface, so no test, helper or
 * scratch fetcher can send a packet off this machine, whatever its allow-list.
 *
 * - Already isolated (every interface in /proc/net/dev is `lo`): runs vitest.
 * - Otherwise re-executes itself under `unshare -rn sh -c 'ip link set lo up && ...'`
 *   (a new user + network namespace; needs no root).
 * - When that is not possible: with CI=true it refuses to run (exit 1); on a
 *   laptop it says plainly that the suite runs WITHOUT isolation, then runs it.
 * Plain Node (no TypeScript), so it works right after `npm ci`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Set for vitest: `namespace` (isolated) or `none` (the announced fallback). test/reliability/isolation.test.ts reads it. */
export const ISOLATION_ENV = 'FACE_TEST_ISOLATION';
const REEXEC_ENV = 'FACE_TEST_UNSHARED';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const args = process.argv.slice(2);
const say = (line) => process.stderr.write(`[npm test] ${line}\n`);

/** Names of this namespace's network interfaces (all of them, up or down, with or without an address). */
function interfaceNames() {
  try {
    return readFileSync('/proc/net/dev', 'utf8')
      .split('\n')
      .slice(2)
      .map((line) => line.split(':')[0].trim())
      .filter(Boolean);
  } catch {
    return Object.keys(networkInterfaces());
  }
}

/** True when loopback is the only interface: nothing can be routed off the machine. */
export function onlyLoopback(names) {
  return names.length > 0 && names.every((name) => name === 'lo');
}

/**
 * What to do, from the facts: run here (`isolated`), re-execute under unshare
 * (`unshare`), refuse (`refuse`: re-executed but still not isolated, or CI
 * without namespaces), or run with a warning (`unisolated`).
 * @param {{ interfaces: string[], reexecuted: boolean, unshareWorks: boolean, ci: boolean }} facts
 */
export function decide({ interfaces, reexecuted, unshareWorks, ci }) {
  if (onlyLoopback(interfaces)) return 'isolated';
  if (reexecuted) return 'refuse';
  if (unshareWorks) return 'unshare';
  return ci ? 'refuse' : 'unisolated';
}

function runVitest(isolation) {
  if (!existsSync(vitest)) {
    say(`vitest is not installed (${vitest}): run npm ci first`);
    process.exit(1);
  }
  const result = spawnSync(process.execPath, [vitest, 'run', ...args], { stdio: 'inherit', env: { ...process.env, [ISOLATION_ENV]: isolation } });
  process.exit(result.status ?? 1);
}

function main() {
  const reexecuted = Boolean(process.env[REEXEC_ENV]);
  const interfaces = interfaceNames();
  // Probe only when needed: a namespace where `ip link set lo up` works is all the suite needs.
  const probe = onlyLoopback(interfaces) || reexecuted ? undefined : spawnSync('unshare', ['-rn', 'sh', '-c', 'ip link set lo up'], { encoding: 'utf8' });
  const action = decide({ interfaces, reexecuted, unshareWorks: probe?.status === 0, ci: process.env.CI === 'true' });

  if (action === 'isolated') {
    if (reexecuted) say('inside a network namespace with loopback only: nothing can leave this machine');
    runVitest('namespace');
  }
  if (action === 'unshare') {
    const result = spawnSync('unshare', ['-rn', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, fileURLToPath(import.meta.url), ...args], {
      stdio: 'inherit',
      env: { ...process.env, [REEXEC_ENV]: '1' },
    });
    process.exit(result.status ?? 1);
  }
  if (reexecuted) {
    // unshare ran but the namespace still shows other interfaces: never fall back silently from here.
    say(`the namespace is not isolated (interfaces: ${interfaces.join(', ')}); refusing to run`);
    process.exit(1);
  }
  const why = probe?.error ? (probe.error.code === 'ENOENT' ? 'unshare is not installed' : probe.error.message) : (probe?.stderr || `unshare exited with ${probe?.status}`).trim();
  if (action === 'refuse') {
    say(`cannot create a network namespace (${why}).`);
    say('CI=true: refusing to run the suite with network access. Allow unprivileged user namespaces (or run as root) and install util-linux and iproute2.');
    process.exit(1);
  }
  say('WARNING: cannot create a network namespace; the tests run WITHOUT network isolation.');
  say(`  reason: ${why}`);
  say('  Only the in-process tripwire (test/helpers/reliability/net-guard.ts) stands between a bad test and the network.');
  runVitest('none');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
