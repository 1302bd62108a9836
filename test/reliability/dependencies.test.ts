/**
 * Every runtime dependency earns its place (issue 10): each one in
 * `dependencies` is imported by code that runs in Lambda, `npm start` or the
 * CDK app (bin, lib, lambda, local); packages only scripts and tests use are
 * devDependencies.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_DIR } from '../../lib/config.js';

const pkg = JSON.parse(readFileSync(join(PROJECT_DIR, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|mjs|js)$/.test(name) ? [path] : [];
  });
}

const runtimeCode = ['bin', 'lib', 'lambda', 'local'].flatMap((dir) => sources(join(PROJECT_DIR, dir))).map((file) => readFileSync(file, 'utf8')).join('\n');

/** True when the code imports `name` or a subpath of it (static or dynamic import, or a createRequire resolve). */
function imported(name: string): boolean {
  const quoted = name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(`(from |import\\(|resolve\\()'${quoted}(/[^']*)?'`).test(runtimeCode);
}

describe('dependencies', () => {
  it.each(Object.keys(pkg.dependencies))('%s is imported by runtime code', (name) => {
    expect(imported(name)).toBe(true);
  });

  it('keeps scripts-and-tests-only packages out of the runtime dependencies', () => {
    expect(pkg.dependencies).not.toHaveProperty('undici');
    expect(pkg.dependencies).not.toHaveProperty('@aws-lambda-powertools/tracer');
    expect(pkg.devDependencies).toHaveProperty('undici');
  });
});
