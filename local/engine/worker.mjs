// Entry of an engine worker thread (see pool.ts). A worker is a fresh module graph:
// tsx's loader is registered here so the TypeScript engine runs under `npm start`
// (tsx), under vitest and under plain node alike.
import { register } from 'tsx/esm/api';

register();
const { runEngineWorker } = await import('./worker-core.ts');
await runEngineWorker();
