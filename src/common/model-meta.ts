/**
 * The JSON metadata that sits beside an ONNX model (x.onnx → x.json): events, thresholds, window,
 * feature count, tensor names and provenance. Written by models/export_onnx.py. Read on the main
 * thread too, so nothing here touches onnxruntime.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
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

/** One model of the served set: its name (the file name without .onnx) and where it lies. */
export interface ModelEntry {
  name: string;
  path: string;
}

/** A model of the set with its metadata read: what the main thread needs to route and describe it. */
export interface ModelDescription extends ModelEntry {
  /** The checkpoint's sha256, shortened (the sidecar's `source.checkpoint_sha256` or `source.sha256`); else the .onnx file's. */
  version: string;
  meta: ModelMeta;
}

/** Hex digits of a version: enough to tell checkpoints apart, short enough to read. */
export const VERSION_LENGTH = 12;

/**
 * The model set named by MODEL_CHECKPOINT_PATH: each entry is an ONNX file, or a directory whose
 * every `*.onnx` (sorted by name) is a model. Throws ModelError, one line, for a path that is
 * missing, a PyTorch checkpoint, a directory without models, or two models of one name.
 */
export function listModelSet(paths: readonly string[]): ModelEntry[] {
  const entries: ModelEntry[] = [];
  for (const path of paths) {
    let isDirectory = false;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch {
      /* modelPathProblem says "not found" */
    }
    if (isDirectory) {
      const files = readdirSync(path).filter((f) => /\.onnx$/i.test(f)).sort();
      if (files.length === 0) throw new ModelError(`${path} is a directory without models; expected *.onnx files (each with its .json beside it)`);
      for (const file of files) entries.push({ name: modelName(file), path: join(path, file) });
      continue;
    }
    const problem = modelPathProblem(path);
    if (problem) throw new ModelError(problem);
    entries.push({ name: modelName(path), path });
  }
  const seen = new Map<string, string>();
  for (const entry of entries) {
    const other = seen.get(entry.name);
    if (other !== undefined) throw new ModelError(`two models named "${entry.name}": ${other} and ${entry.path} (a model's name is its file name without .onnx)`);
    seen.set(entry.name, entry.path);
  }
  return entries;
}

/** Lists the set and reads every model's metadata; throws ModelError on the first problem. */
export function describeModelSet(paths: readonly string[]): ModelDescription[] {
  return listModelSet(paths).map((entry) => {
    const meta = readModelMeta(entry.path);
    return { ...entry, meta, version: modelVersion(entry.path, meta) };
  });
}

function modelName(path: string): string {
  return basename(path).replace(/\.onnx$/i, '');
}

/** The checkpoint's sha256, shortened; a sidecar without one gets the .onnx file's own digest. */
export function modelVersion(onnxPath: string, meta: ModelMeta): string {
  const declared = meta.source.checkpoint_sha256 ?? meta.source.sha256;
  if (typeof declared === 'string' && /^[0-9a-f]{8,}$/i.test(declared)) return declared.slice(0, VERSION_LENGTH).toLowerCase();
  return createHash('sha256').update(readFileSync(onnxPath)).digest('hex').slice(0, VERSION_LENGTH);
}
