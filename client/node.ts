/**
 * Node-only helpers of the client (they read files). Everything else is in `./index.ts`, which
 * runs in browsers too; this module re-exports it, so Node code can import from here alone.
 */
import { readFile } from 'node:fs/promises';
import { imageFromBuffer } from './index.js';

export * from './index.js';

/**
 * An image from a JPEG or PNG file, as `{ bytes }` (base64). The server checks the format and the
 * size; an unreadable file throws Node's own error (ENOENT, EISDIR, EACCES: it names the path).
 */
export async function imageFromFile(path: string): Promise<{ bytes: string }> {
  return imageFromBuffer(await readFile(path));
}
