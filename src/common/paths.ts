import { existsSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(import.meta.url);

/** The folder that holds package.json, whether we run from src/ (tsx) or dist/src/ (built). */
function findProjectRoot(start: string): string {
  for (let dir = dirname(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

export const PROJECT_ROOT = findProjectRoot(here);

/** '.ts' when running from source under tsx (dev, tests), '.js' when running the build. */
const MODULE_EXT = extname(here);
const CODE_ROOT = MODULE_EXT === '.ts' ? PROJECT_ROOT : join(PROJECT_ROOT, 'dist');

/** URL of a thread entry in workers/, e.g. workerUrl('inference') → workers/inference.worker.{ts,js}. */
export function workerUrl(name: string): URL {
  return pathToFileURL(join(CODE_ROOT, 'workers', `${name}.worker${MODULE_EXT}`));
}

export const BUNDLED_MODELS_DIR = join(PROJECT_ROOT, 'models');
/** The window-16 bundled model (the one the parity and accuracy tests check). */
export const BUNDLED_MODEL_PATH = join(BUNDLED_MODELS_DIR, 'behavior_lstm.onnx');
export const BUNDLED_MODEL_W60_PATH = join(BUNDLED_MODELS_DIR, 'behavior_lstm_w60.onnx');
