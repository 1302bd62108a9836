/**
 * client/types.ts is generated from the OpenAPI document (npm run client:types): the file on disk
 * must be exactly what the document renders today, the client's paths must be the document's, and
 * the core client must compile for a browser (DOM lib, no Node types, no node: import).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { OPERATION_PATHS } from '../../client/index.js';
import { PROJECT_DIR } from '../../lib/config.js';
import { buildOpenApiDocument } from '../../lambda/shared/openapi.js';
import { CLIENT_TYPES_PATH, renderClientTypes } from '../../scripts/client-types.js';

describe('client/types.ts', () => {
  it('GIVEN the OpenAPI document WHEN the types are rendered THEN client/types.ts is identical (else: npm run client:types)', async () => {
    const rendered = await renderClientTypes();
    const onDisk = readFileSync(CLIENT_TYPES_PATH, 'utf8');
    expect(onDisk === rendered, 'client/types.ts disagrees with the OpenAPI document: run `npm run client:types` and commit the result').toBe(true);
  }, 60_000);

  it('GIVEN the rendered types THEN they carry every operation and schema, with maxFaceCount optional and no example image', async () => {
    const rendered = await renderClientTypes();
    for (const id of Object.keys(OPERATION_PATHS)) expect(rendered).toMatch(new RegExp(`^    ${id}: \\{`, 'm'));
    for (const schema of ['VerifyFacesResponse', 'CompareFaceEmbeddingsBatchRequest', 'Problem', 'Image']) expect(rendered).toContain(`${schema}: {`);
    expect(rendered).toMatch(/maxFaceCount\?: number;/);
    expect(rendered).toMatch(/bytes\?: string \| null;/);
    // The request examples hold a whole base64 photo: it stays out of the type declarations.
    expect(rendered).not.toMatch(/\/9j\//);
    expect(rendered.length).toBeLessThan(60_000);
  }, 60_000);

  it('GIVEN the document WHEN its operations are listed THEN OPERATION_PATHS names each operationId with its path, and nothing else', () => {
    const doc = buildOpenApiDocument();
    const fromDoc: Record<string, string> = {};
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      const id = (item as { post?: { operationId?: string } }).post?.operationId;
      if (id) fromDoc[id] = path;
    }
    expect(OPERATION_PATHS).toEqual(fromDoc);
  });

  it('GIVEN client/index.ts WHEN compiled with the DOM lib and no Node types THEN it type-checks and imports nothing from node:', () => {
    const files = ['index.ts', 'types.ts'].map((name) => join(PROJECT_DIR, 'client', name));
    for (const file of files) expect(readFileSync(file, 'utf8')).not.toMatch(/from ['"]node:|require\(/);
    const program = ts.createProgram(files, {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
      types: [],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
    // The program really is Node-free: `process` is unknown to it.
    const probe = ts.createProgram([join(PROJECT_DIR, 'client', 'node.ts')], { lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'], types: [], noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext });
    expect(ts.getPreEmitDiagnostics(probe).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n')).toMatch(/node:fs\/promises/);
  }, 60_000);
});
