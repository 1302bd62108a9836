/**
 * Loads face-api's node-wasm build once per process: the tfjs WASM backend
 * (binaries read from node_modules, no network) and the three nets the engine
 * uses, with the weights shipped in the npm package's `model/` folder.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as faceapi from '@vladmandic/face-api/dist/face-api.node-wasm.js';

export type FaceApi = typeof faceapi;

const require = createRequire(import.meta.url);

/** Root folder of the installed @vladmandic/face-api package (its `demo/` holds six sample photos). */
export const FACE_API_DIR = path.dirname(require.resolve('@vladmandic/face-api/package.json'));

/** Folder of the weights shipped with @vladmandic/face-api (SSD MobileNet v1, 68 landmarks, recognition). */
export const MODEL_DIR = path.join(FACE_API_DIR, 'model');

/** Folder of tfjs-backend-wasm's `.wasm` binaries; the trailing slash makes it a prefix for setWasmPaths. */
export const WASM_DIR = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;

/** What loading cost, for the startup log line and the benchmark. */
export interface RuntimeInfo {
  readonly backend: string;
  readonly loadMs: number;
  readonly faceApiVersion: string;
  readonly tfjsVersion: string;
}

let loading: Promise<{ faceapi: FaceApi; info: RuntimeInfo }> | undefined;

/**
 * Initialises the WASM backend and loads the nets; later calls share the first
 * call's promise (tfjs keeps one global engine per process).
 */
export function loadFaceApi(): Promise<{ faceapi: FaceApi; info: RuntimeInfo }> {
  loading ??= (async () => {
    const started = performance.now();
    // Node has no fetch for file paths; setWasmPaths with a path prefix makes tfjs read the binary from disk.
    setWasmPaths(WASM_DIR);
    // The Emscripten glue adds process-wide 'uncaughtException'/'unhandledRejection' listeners that
    // rethrow (and print a 100 kB minified source line); tfjs never uses them, so Node's defaults are restored.
    const before = { uncaughtException: process.listeners('uncaughtException'), unhandledRejection: process.listeners('unhandledRejection') };
    try {
      if (!(await tf.setBackend('wasm'))) throw new Error('tfjs WASM backend failed to initialise');
      await tf.ready();
    } finally {
      for (const listener of process.listeners('uncaughtException')) {
        if (!before.uncaughtException.includes(listener)) process.removeListener('uncaughtException', listener);
      }
      for (const listener of process.listeners('unhandledRejection')) {
        if (!before.unhandledRejection.includes(listener)) process.removeListener('unhandledRejection', listener);
      }
    }
    await Promise.all([
      faceapi.nets.ssdMobilenetv1.loadFromDisk(MODEL_DIR),
      faceapi.nets.faceLandmark68Net.loadFromDisk(MODEL_DIR),
      faceapi.nets.faceRecognitionNet.loadFromDisk(MODEL_DIR),
    ]);
    return {
      faceapi,
      info: {
        backend: tf.getBackend(),
        loadMs: performance.now() - started,
        faceApiVersion: faceapi.version,
        tfjsVersion: tf.version_core,
      },
    };
  })();
  loading.catch(() => {
    loading = undefined; // let a later call retry instead of caching the failure
  });
  return loading;
}

/** Number of live tensors (tests use it to prove inference does not leak). */
export const liveTensorCount = (): number => tf.memory().numTensors;
