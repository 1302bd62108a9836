/**
 * `node:http` and `node:https` for the Lambda code, loaded with `require` instead of an ESM import.
 *
 * Why: Node 24's ESM wrapper of a built-in module reads every export, and `node:http`'s lazy
 * `WebSocket`, `CloseEvent` and `MessageEvent` getters then load Node's bundled undici. Measured
 * here on Node 24.22.3: `await import('node:http')` 33-40 ms, `require('node:http')` 3 ms (Node
 * 20.20: 3 ms either way). Every request-path function that calls the backend or downloads an
 * image paid that in its module init (the bundle start-up test in test/lib/bundling.test.ts
 * reports it).
 */
import { createRequire } from 'node:module';

const requireBuiltin = createRequire(import.meta.url);

export const http: typeof import('node:http') = requireBuiltin('node:http');
export const https: typeof import('node:https') = requireBuiltin('node:https');
