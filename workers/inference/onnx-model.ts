/**
 * The server's inference: one onnxruntime session over an exported pose model, checked against its
 * metadata before first use. The only module that imports onnxruntime-node (worker threads only).
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { InferenceWorkerInit } from '../../src/contracts/inference.js';
import { firstLine, metaPathFor, ModelError, readModelMeta, type ModelMeta } from '../../src/common/model-meta.js';

export interface OnnxModel {
  readonly meta: ModelMeta;
  /** Which execution provider actually runs. */
  readonly provider: 'cuda' | 'cpu';
  /** data: batch*frames*featureDim raw features (row-major). Returns batch*C scores (sigmoid applied in the graph). */
  run(data: Float32Array, batch: number, frames: number): Promise<Float32Array>;
  release(): Promise<void>;
}

export type OpenOptions = Pick<InferenceWorkerInit, 'device' | 'intraOpThreads'>;

/**
 * Reads the metadata, creates the session and checks the graph against the metadata (tensor names,
 * feature count, event count, window when the graph fixes one). Throws ModelError, one line, otherwise.
 * 'auto' uses CUDA when its provider loads and the CPU otherwise; 'cuda' fails if CUDA cannot load.
 */
export async function openOnnxModel(onnxPath: string, options: OpenOptions): Promise<OnnxModel> {
  const meta = readModelMeta(onnxPath);
  const { session, provider } = await createSession(onnxPath, options);
  try {
    checkGraph(session, meta, metaPathFor(onnxPath));
  } catch (err) {
    await session.release();
    throw err;
  }
  const classes = meta.events.length;
  return {
    meta,
    provider,
    async run(data, batch, frames) {
      const expected = batch * frames * meta.featureDim;
      if (data.length !== expected) {
        throw new RangeError(`expected ${expected} values (${batch} x ${frames} x ${meta.featureDim}), got ${data.length}`);
      }
      const input = new ort.Tensor('float32', data, [batch, frames, meta.featureDim]);
      const result = await session.run({ [meta.inputName]: input });
      const scores = result[meta.outputName]!.data as Float32Array;
      if (scores.length !== batch * classes) {
        throw new RangeError(`the model returned ${scores.length} scores for ${batch} windows of ${classes} events`);
      }
      return scores;
    },
    release: () => session.release(),
  };
}

async function createSession(
  onnxPath: string,
  { device, intraOpThreads }: OpenOptions,
): Promise<{ session: ort.InferenceSession; provider: 'cuda' | 'cpu' }> {
  const create = (providers: string[]): Promise<ort.InferenceSession> =>
    ort.InferenceSession.create(onnxPath, {
      executionProviders: providers,
      intraOpNumThreads: intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
  const cudaInstalled = cudaProviderInstalled();
  // Probing for files that are absent only makes onnxruntime print a native error on stderr: say why instead.
  if (device === 'cuda' && !cudaInstalled) {
    throw new ModelError(`${onnxPath}: device 'cuda' requested but the CUDA execution provider cannot load: it is not installed (see README, "GPU hosts")`);
  }
  // Asking for ['cuda', 'cpu'] throws when the CUDA files are absent instead of falling back, so probe with CUDA alone.
  if (device !== 'cpu' && cudaInstalled) {
    try {
      return { session: await create(['cuda']), provider: 'cuda' };
    } catch (err) {
      if (device === 'cuda') throw new ModelError(`${onnxPath}: device 'cuda' requested but the CUDA execution provider cannot load (${firstLine(err)})`);
    }
  }
  try {
    return { session: await create(['cpu']), provider: 'cpu' };
  } catch (err) {
    throw new ModelError(`${onnxPath}: onnxruntime cannot load the model (${firstLine(err)})`);
  }
}

/** Whether onnxruntime-node's CUDA provider library is on disk (its install step fetches it separately). */
function cudaProviderInstalled(): boolean {
  const bin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin');
  if (!existsSync(bin)) return false;
  return readdirSync(bin).some((napi) => {
    const dir = join(bin, napi, process.platform, process.arch);
    return existsSync(dir) && readdirSync(dir).some((file) => file.includes('providers_cuda'));
  });
}

function checkGraph(session: ort.InferenceSession, meta: ModelMeta, metaPath: string): void {
  const fail = (what: string): never => {
    throw new ModelError(`${metaPath}: ${what}`);
  };
  const input = session.inputMetadata.find((m) => m.name === meta.inputName);
  if (!input) return fail(`input_name "${meta.inputName}" is not an input of the graph (it has: ${session.inputNames.join(', ')})`);
  const output = session.outputMetadata.find((m) => m.name === meta.outputName);
  if (!output) return fail(`output_name "${meta.outputName}" is not an output of the graph (it has: ${session.outputNames.join(', ')})`);
  if (!input.isTensor || input.type !== 'float32' || input.shape.length !== 3) {
    return fail(`the graph's input "${input.name}" must be a float32 tensor [batch, frames, features], found ${describe(input)}`);
  }
  if (!output.isTensor || output.type !== 'float32' || output.shape.length !== 2) {
    return fail(`the graph's output "${output.name}" must be a float32 tensor [batch, events], found ${describe(output)}`);
  }
  const [, frames, features] = input.shape;
  if (typeof features === 'number' && features !== meta.featureDim) {
    fail(`feature_dim ${meta.featureDim} disagrees with the graph's input (${features})`);
  }
  if (typeof frames === 'number' && frames !== meta.windowSize) {
    fail(`window_size ${meta.windowSize}${meta.windowSize === 0 ? ' (any length)' : ''} disagrees with the graph's input, which fixes ${frames} frames`);
  }
  const classes = output.shape[1];
  if (typeof classes === 'number' && classes !== meta.events.length) {
    fail(`${meta.events.length} events disagree with the graph's output (${classes} scores per window)`);
  }
}

function describe(m: ort.InferenceSession.ValueMetadata): string {
  return m.isTensor ? `${m.type} [${m.shape.join(', ')}]` : 'a non-tensor value';
}
