/**
 * Runs the embedded engine alone, as a stand-in "container" for manual testing:
 *   npx tsx local/engine/main.ts          (ENGINE_PORT, default 8081; ENGINE_HOST, default 127.0.0.1;
 *                                          ENGINE_WORKERS, default one worker thread per core)
 * then e.g. point the gateway at it with BACKEND_URL=http://127.0.0.1:8081.
 */
import { startEngineServer } from './server.js';

const port = Number(process.env.ENGINE_PORT ?? 8081);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`ENGINE_PORT must be a TCP port number (0-65535), got "${process.env.ENGINE_PORT}"`);
  process.exit(2);
}
const host = process.env.ENGINE_HOST ?? '127.0.0.1';
const workersText = process.env.ENGINE_WORKERS?.trim();
const workers = workersText ? Number(workersText) : undefined;
if (workers !== undefined && (!Number.isInteger(workers) || workers < 1 || workers > 64)) {
  console.error(`ENGINE_WORKERS must be an integer from 1 to 64, got "${process.env.ENGINE_WORKERS}"`);
  process.exit(2);
}

const server = await startEngineServer({ host, port, engineOptions: { workers } }).catch((error: unknown) => {
  // One line, not a stack: tfjs's WASM glue rethrows through a 100 kB minified line.
  console.error(`face engine failed to start: ${(error as Error)?.message ?? String(error)}`);
  process.exit(1);
});
// The server's own engine is a worker pool (pool.ts), whose info names its threads.
const info = server.engine.info as typeof server.engine.info & { workers?: number; startMs?: number };
const threads = info.workers ? `${info.workers} worker thread${info.workers === 1 ? '' : 's'} started in ${Math.round(info.startMs ?? 0)} ms, ` : '';
console.log(
  `face engine listening on ${server.url} (face-api ${info.faceApiVersion}, tfjs ${info.tfjsVersion} ${info.backend}; ${threads}models loaded in ${Math.round(info.loadMs)} ms)`,
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
