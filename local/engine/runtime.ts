/**
 * Loads the engine's models once per process, all from files shipped in npm
 * packages (no network): the tfjs WASM backend (binaries from node_modules),
 * face-api's SSD MobileNet v1 detector (its `model/` folder) and the recognition
 * net, HSE FaceRes from @vladmandic/human's `models/` folder (1024-d descriptors),
 * chosen over face-api's 128-d net by the evidence in local/engine/README.md.
 * face-api's landmark and 128-d recognition nets load only on request
 * (`loadFaceApiRecognition`, for the score evidence's comparison).
 */
import { readFileSync } from 'node:fs';
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

/** Root folder of the installed @vladmandic/human package (only its `models/` folder is used). */
export const HUMAN_DIR = path.resolve(path.dirname(require.resolve('@vladmandic/human')), '..'); // its exports hide package.json; main is dist/human.node.js

/**
 * HSE FaceRes (github.com/HSE-asavchenko/HSE_FaceRec_tf) as converted by @vladmandic/human:
 * input [n, 224, 224, 3] RGB in 0..255, outputs gender [n, 1], age [n, 100] and the face
 * descriptor [n, 1024] (`global_pooling/Mean`); see @vladmandic/human src/face/faceres.ts.
 */
export const FACERES_MODEL_PATH = path.join(HUMAN_DIR, 'models', 'faceres.json');

/** Folder of tfjs-backend-wasm's `.wasm` binaries; the trailing slash makes it a prefix for setWasmPaths. */
export const WASM_DIR = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;

/** What loading cost, for the startup log line and the benchmark. */
export interface RuntimeInfo {
  readonly backend: string;
  readonly loadMs: number;
  readonly faceApiVersion: string;
  readonly tfjsVersion: string;
}

/** What loadFaceApi() gives: face-api (detector weights loaded) and the recognition graph model. */
export interface Runtime {
  readonly faceapi: FaceApi;
  /** HSE FaceRes graph model (see FACERES_MODEL_PATH). */
  readonly faceres: tf.GraphModel;
  readonly info: RuntimeInfo;
}

/**
 * Loads a tfjs graph model (model.json + weight shards) from disk: tfjs' own
 * `loadGraphModel(url)` would fetch over HTTP, so the artifacts are handed to it
 * through an IOHandler (tfjs-core io/types.ts: `load(): Promise<ModelArtifacts>`).
 */
export async function loadGraphModelFromDisk(jsonPath: string): Promise<tf.GraphModel> {
  const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as {
    modelTopology: object;
    format?: string;
    generatedBy?: string;
    convertedBy?: string | null;
    signature?: object;
    userDefinedMetadata?: Record<string, object>;
    modelInitializer?: object;
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  };
  // Shards in manifest order, concatenated: the layout weightSpecs describe.
  const shards = json.weightsManifest.flatMap((group) => group.paths.map((p) => readFileSync(path.join(path.dirname(jsonPath), p))));
  const weights = Buffer.concat(shards);
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata,
    modelInitializer: json.modelInitializer,
    weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  };
  return tf.loadGraphModel({ load: async () => artifacts });
}

let loading: Promise<Runtime> | undefined;
let loadingFaceApiRecognition: Promise<void> | undefined;

/**
 * Initialises the WASM backend and loads the nets; later calls share the first
 * call's promise (tfjs keeps one global engine per process).
 */
export function loadFaceApi(): Promise<Runtime> {
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
    const [, faceres] = await Promise.all([faceapi.nets.ssdMobilenetv1.loadFromDisk(MODEL_DIR), loadGraphModelFromDisk(FACERES_MODEL_PATH)]);
    return {
      faceapi,
      faceres,
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

/**
 * Loads face-api's 68-point landmark net and 128-d recognition net (the engine's
 * recognition before issue 13), for `createEngine({ recognition: 'face-api' })`.
 */
export function loadFaceApiRecognition(): Promise<void> {
  loadingFaceApiRecognition ??= (async () => {
    await loadFaceApi();
    await Promise.all([faceapi.nets.faceLandmark68Net.loadFromDisk(MODEL_DIR), faceapi.nets.faceRecognitionNet.loadFromDisk(MODEL_DIR)]);
  })();
  loadingFaceApiRecognition.catch(() => {
    loadingFaceApiRecognition = undefined;
  });
  return loadingFaceApiRecognition;
}

/** Number of live tensors (tests use it to prove inference does not leak). */
export const liveTensorCount = (): number => tf.memory().numTensors;
