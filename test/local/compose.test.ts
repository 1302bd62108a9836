/**
 * compose.yaml runs the vendor's image with every hardening flag of the vendor guide
 * ("Run the container": --read-only, --pids-limit=128, --security-opt=no-new-privileges,
 * --memory=16G, port 8080) and takes the activation key from a git-ignored env file.
 * No docker here: the file is parsed and checked field by field.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROJECT_DIR, VENDOR_REGISTRY, VENDOR_REPOSITORY } from '../../lib/config.js';

const compose = parse(readFileSync(join(PROJECT_DIR, 'compose.yaml'), 'utf8')) as { services: Record<string, any> };
const service = compose.services['face-verification-api'];

describe('compose.yaml (the vendor container on a laptop)', () => {
  it('GIVEN the compose file WHEN parsed THEN it has one service running the vendor image', () => {
    expect(Object.keys(compose.services)).toEqual(['face-verification-api']);
    expect(service.image).toBe(`${VENDOR_REGISTRY}/${VENDOR_REPOSITORY}:latest`);
  });

  it('GIVEN the service WHEN read THEN it has the guide\'s hardening: read-only, no-new-privileges, pids 128, 16G', () => {
    expect(service.read_only).toBe(true);
    expect(service.security_opt).toContain('no-new-privileges');
    expect(service.deploy.resources.limits).toEqual({ pids: 128, memory: '16G' });
    // Nothing that would loosen it.
    expect(service.privileged).toBeUndefined();
    expect(service.cap_add).toBeUndefined();
    expect(service.network_mode).toBeUndefined();
  });

  it('GIVEN the read-only root WHEN read THEN /tmp is a tmpfs scratch path', () => {
    expect(service.tmpfs).toEqual([expect.stringMatching(/^\/tmp:size=\d+[mg],mode=1777$/)]);
  });

  it('GIVEN the ports WHEN read THEN container port 8080 is published on loopback only, where the docs point BACKEND_URL', () => {
    expect(service.ports).toEqual(['127.0.0.1:8081:8080']);
    const readme = readFileSync(join(PROJECT_DIR, 'README.md'), 'utf8');
    expect(readme).toContain('docker compose up -d');
    expect(readme).toContain('BACKEND_URL=http://127.0.0.1:8081 npm start');
  });

  it('GIVEN the activation key WHEN read THEN it comes from .env.vendor, which git ignores, and never from the file itself', () => {
    expect(service.env_file).toBe('.env.vendor');
    expect(service.environment).toBeUndefined();
    expect(readFileSync(join(PROJECT_DIR, 'compose.yaml'), 'utf8')).not.toMatch(/ACTIVATION_KEY=\S/);
    // git check-ignore exits 0 (and prints the path) when the path is ignored.
    expect(execFileSync('git', ['check-ignore', '.env.vendor'], { cwd: PROJECT_DIR, encoding: 'utf8' }).trim()).toBe('.env.vendor');
    const example = readFileSync(join(PROJECT_DIR, '.env.vendor.example'), 'utf8');
    expect(example).toMatch(/^ACTIVATION_KEY=$/m);
    expect(() => execFileSync('git', ['check-ignore', '.env.vendor.example'], { cwd: PROJECT_DIR, stdio: 'pipe' })).toThrow();
  });
});
