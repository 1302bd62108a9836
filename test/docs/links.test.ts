/**
 * Every relative link in every Markdown file of the repository resolves: the file exists, and a
 * `#anchor` names a heading of the target (GitHub's anchor rules). External links are not fetched.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_DIR } from '../../lib/config.js';

const SKIP = new Set(['node_modules', '.git', 'cdk.out', 'coverage', 'test-results']);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (SKIP.has(name)) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

/** The text outside fenced code blocks and inline code spans. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[\s\S]*?^\1/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading anchors of a Markdown file (lower case, punctuation dropped, spaces to dashes, -1 for repeats). */
export function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  const withoutCode = markdown.replace(/^(```|~~~)[\s\S]*?^\1/gm, '');
  for (const match of withoutCode.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = match[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

const files = markdownFiles(PROJECT_DIR);

describe('Markdown links', () => {
  it('GIVEN the repository WHEN listing Markdown files THEN README and the docs pages are among them', () => {
    const names = files.map((f) => relative(PROJECT_DIR, f));
    for (const page of ['README.md', 'docs/deploy.md', 'docs/configuration.md', 'docs/operations.md', 'docs/api.md', 'docs/development.md', 'docs/benchmarks.md', 'docs/reliability.md']) {
      expect(names).toContain(page);
    }
  });

  it.each(files.map((f) => [relative(PROJECT_DIR, f), f]))('GIVEN %s WHEN its relative links are followed THEN each file and #anchor exists', (_name, file) => {
    const text = readFileSync(file, 'utf8');
    const broken: string[] = [];
    for (const match of prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
      const resolved = pathPart === '' ? file : resolve(dirname(file), decodeURIComponent(pathPart));
      if (!existsSync(resolved)) {
        broken.push(`${target}: no such file`);
        continue;
      }
      if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)) {
        broken.push(`${target}: no heading with anchor #${anchor}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('GIVEN a heading with code, punctuation and a repeat WHEN anchored THEN it follows GitHub', () => {
    expect([...anchorsOf("## Local configuration (`npm start`)\n## Run the vendor's container\n## 1. Bootstrap (once)\n## X\n## X\n")]).toEqual([
      'local-configuration-npm-start',
      'run-the-vendors-container',
      '1-bootstrap-once',
      'x',
      'x-1',
    ]);
  });
});
