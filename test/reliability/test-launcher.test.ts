/**
 * The `npm test` launcher (scripts/test.mjs) decides from facts alone: run
 * when loopback is the only interface, re-execute under unshare when it can,
 * refuse on CI (or after a re-execution that did not isolate), and otherwise
 * run with a plain warning.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decide, onlyLoopback } from '../../scripts/test.mjs';
import { PROJECT_DIR } from '../../lib/config.js';

describe('npm test launcher', () => {
  it('treats only a loopback-only interface list as isolated', () => {
    expect(onlyLoopback(['lo'])).toBe(true);
    expect(onlyLoopback(['lo', 'eth0'])).toBe(false);
    expect(onlyLoopback([])).toBe(false);
  });

  it.each([
    [{ interfaces: ['lo'], reexecuted: false, unshareWorks: false, ci: true }, 'isolated'],
    [{ interfaces: ['lo'], reexecuted: true, unshareWorks: false, ci: false }, 'isolated'],
    [{ interfaces: ['lo', 'eth0'], reexecuted: false, unshareWorks: true, ci: true }, 'unshare'],
    [{ interfaces: ['lo', 'eth0'], reexecuted: true, unshareWorks: true, ci: false }, 'refuse'],
    [{ interfaces: ['lo', 'eth0'], reexecuted: false, unshareWorks: false, ci: true }, 'refuse'],
    [{ interfaces: ['lo', 'eth0'], reexecuted: false, unshareWorks: false, ci: false }, 'unisolated'],
  ] as const)('%j -> %s', (facts, action) => {
    expect(decide(facts)).toBe(action);
  });

  it('inside the namespace, runs vitest and passes its exit code through', () => {
    // A file that matches nothing: vitest exits 1 ("no test files found"); the launcher must not hide it.
    const result = spawnSync(process.execPath, [join(PROJECT_DIR, 'scripts', 'test.mjs'), 'test/does-not-exist-anywhere'], { cwd: PROJECT_DIR, encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(1);
  });

  it('without unshare on PATH and CI=true: runs when already isolated, else refuses (never silently unisolated)', () => {
    const bin = mkdtempSync(join(tmpdir(), 'no-unshare-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    const result = spawnSync(process.execPath, [join(PROJECT_DIR, 'scripts', 'test.mjs'), 'test/does-not-exist-anywhere'], {
      cwd: PROJECT_DIR,
      encoding: 'utf8',
      // Inside the namespace (npm test) the launcher needs no unshare and runs vitest (exit 1: no files);
      // outside it, CI=true without unshare must refuse before vitest starts.
      env: { PATH: bin, CI: 'true' },
      timeout: 60_000,
    });
    const insideNamespace = onlyLoopback(readInterfaces());
    if (insideNamespace) expect([result.status, result.stderr]).toEqual([1, expect.not.stringMatching(/WITHOUT network isolation|refusing/)]);
    else expect([result.status, result.stderr]).toEqual([1, expect.stringMatching(/refusing to run the suite with network access/)]);
  });
});

function readInterfaces(): string[] {
  return readFileSync('/proc/net/dev', 'utf8')
    .split('\n')
    .slice(2)
    .map((line) => line.split(':')[0]!.trim())
    .filter(Boolean);
}
