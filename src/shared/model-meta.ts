/**
 * The JSON metadata that sits beside an ONNX model (x.onnx → x.json): events, thresholds, window,
 * feature count, tensor names and provenance. Written by models/export_onnx.py. Read on the main
 * thread too, so nothing here touches onnxruntime.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { errorMessage } from './errors.js';

export interface ModelMeta {
  events: string[];
  thresholds: number[];
  /** Frames per window the model was trained on; 0 = any length. */
  windowSize: number;
  featureDim: number;
  inputName: string;
  outputName: string;
  /** Where the model came from: checkpoint file, its sha256, exporter version, exported_at, ... */
  source: Record<string, unknown>;
  /** Display labels of (some) event names, e.g. {"fall": "낙상"}: what memos and the watch page show. */
  labels: Record<string, string>;
}

/** A model pair that cannot be used; the message is one line that names the file and the problem. */
export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}

/** x.onnx → x.json (any other name gets .json appended). */
export function metaPathFor(onnxPath: string): string {
  return /\.onnx$/i.test(onnxPath) ? onnxPath.replace(/\.onnx$/i, '.json') : `${onnxPath}.json`;
}

/** What torch.save writes by default (since PyTorch 1.6): a zip archive. */
const ZIP_MAGIC = Buffer.from('PK\x03\x04', 'latin1');
const PYTORCH_EXTENSION = /\.(pt|pth|ckpt)$/i;

/**
 * Why `path` cannot be the server's model, or null when it may be one: it is absent, a directory, or
 * a PyTorch checkpoint not yet exported (users of the FastAPI backend point at their .pt file first).
 */
export function modelPathProblem(path: string): string | null {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    return `model file not found: ${path}`;
  }
  if (stats.isDirectory()) return `${path} is a directory; expected an ONNX model file (x.onnx, with x.json beside it)`;
  if (PYTORCH_EXTENSION.test(path) || startsWith(path, ZIP_MAGIC)) {
    const onnx = `${path.slice(0, path.length - extname(path).length)}.onnx`;
    return `${path} is a PyTorch checkpoint; the server runs ONNX models: export it once with `
      + `\`python3 models/export_onnx.py ${path} ${onnx}\` and point the server at ${onnx} (README: "Coming from the FastAPI backend")`;
  }
  return null;
}

function startsWith(path: string, magic: Buffer): boolean {
  const head = Buffer.alloc(magic.length);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(magic);
  } catch {
    return false; // unreadable: onnxruntime reports it with its own reason
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

type Json = Record<string, unknown>;

/** Reads and checks the metadata beside `onnxPath`; throws ModelError on anything missing or inconsistent. */
export function readModelMeta(onnxPath: string): ModelMeta {
  const path = metaPathFor(onnxPath);
  const problem = modelPathProblem(onnxPath);
  if (problem) throw new ModelError(problem);
  if (!existsSync(path)) {
    throw new ModelError(`${path}: metadata file not found; it must sit beside ${onnxPath} (models/export_onnx.py writes both)`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ModelError(`${path}: not readable JSON (${firstLine(err)})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ModelError(`${path}: expected a JSON object`);
  const json = doc as Json;
  const fail = (what: string): never => {
    throw new ModelError(`${path}: ${what}`);
  };

  const events = json.events;
  if (!Array.isArray(events) || events.length === 0 || !events.every((e) => typeof e === 'string' && e.length > 0)) {
    return fail('"events" must be a non-empty list of event names');
  }
  if (new Set(events).size !== events.length) fail(`"events" has duplicate names: ${JSON.stringify(events)}`);
  const thresholds = json.thresholds;
  if (!Array.isArray(thresholds) || !thresholds.every((v) => typeof v === 'number' && v >= 0 && v <= 1)) {
    return fail('"thresholds" must be a list of numbers in [0, 1]');
  }
  if (thresholds.length !== events.length) {
    fail(`"thresholds" has ${thresholds.length} values but "events" has ${events.length} names: one threshold per event`);
  }
  const windowSize = wholeNumber(json, 'window_size', 0, fail);
  const featureDim = wholeNumber(json, 'feature_dim', 1, fail);
  const labels = json.labels ?? {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)
    || !Object.values(labels).every((v) => typeof v === 'string' && v.length > 0 && v.length <= 64)) {
    fail('"labels" must map event names to display labels (non-empty strings of at most 64 characters)');
  }
  const source = json.source ?? {};
  if (typeof source !== 'object' || source === null || Array.isArray(source)) fail('"source" must be an object');
  return {
    events: events as string[],
    thresholds: thresholds as number[],
    windowSize,
    featureDim,
    inputName: name(json, 'input_name', fail),
    outputName: name(json, 'output_name', fail),
    source: source as Record<string, unknown>,
    // Only the model's own events, as own properties (a label named "__proto__" stays data).
    labels: Object.fromEntries(Object.entries(labels as Record<string, string>).filter(([name]) => (events as string[]).includes(name))),
  };
}

function wholeNumber(json: Json, key: string, min: number, fail: (what: string) => never): number {
  const v = json[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) return fail(`"${key}" must be a whole number >= ${min}, found ${JSON.stringify(v)}`);
  return v;
}

function name(json: Json, key: string, fail: (what: string) => never): string {
  const v = json[key];
  if (typeof v !== 'string' || v.length === 0) return fail(`"${key}" must be a non-empty string`);
  return v;
}

/**
 * The first line of an error's message, without terminal colour codes: enough to name the problem
 * in a one-line ModelError (onnxruntime appends its native log, coloured, after the first line).
 */
export function firstLine(err: unknown): string {
  return errorMessage(err).split('\n')[0]!.replace(/\u001b\[[0-9;]*m.*$/, '');
}
