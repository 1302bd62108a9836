/**
 * Runs the embedded engine alone, as a stand-in "container" for manual testing:
 *   npx tsx local/engine/main.ts          (ENGINE_PORT, default 8081; ENGINE_HOST, default 127.0.0.1)
 * then e.g. point the gateway at it with BACKEND_URL=http://127.0.0.1:8081.
 */
import { startEngineServer } from './server.js';

const port = Number(process.env.ENGINE_PORT ?? 8081);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`ENGINE_PORT must be a TCP port number (0-65535), got "${process.env.ENGINE_PORT}"`);
  process.exit(2);
}
const host = process.env.ENGINE_HOST ?? '127.0.0.1';

const server = await startEngineServer({ host, port }).catch((error: unknown) => {
  // One line, not a stack: tfjs's WASM glue rethrows through a 100 kB minified line.
  console.error(`face engine failed to start: ${(error as Error)?.message ?? String(error)}`);
  process.exit(1);
});
const { info } = server.engine;
console.log(
  `face engine listening on ${server.url} (face-api ${info.faceApiVersion}, tfjs ${info.tfjsVersion} ${info.backend}; models loaded in ${Math.round(info.loadMs)} ms)`,
);
server.engine.ready.then(
  () => console.log(`face engine warmed up in ${Math.round(server.engine.info.warmUpMs ?? 0)} ms`),
  (error: unknown) => console.error(`face engine warm-up failed: ${(error as Error)?.message}`),
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void server.close().finally(() => process.exit(0));
  });
}
