/**
 * Decoding what an agent sends on a stream socket — JSON open/frame/close messages or a binary
 * frame — into one typed form, or a StreamMessageError whose detail names the problem; and the
 * encoders an agent uses for its frames (the demo agent and the tests use them).
 */
import { BINARY_FRAME, STREAM_ID_LIMITS, StreamClose, StreamFrame, StreamOpen, UNIX_SECONDS_RANGE } from '../contracts/stream.js';
import { KEYPOINT_COUNT, KEYPOINT_VALUES } from '../features/pose-features.js';
import type { FrameInput } from '../common/stream-frame-encoding.js';
import { compileValidator, type Validator } from '../validation/validators.js';
import type { FastApiErrorItem } from '../validation/fastapi-errors.js';
import { MAX_NESTING_DEPTH, describeValue, tooDeepAt } from '../validation/input-limits.js';

export interface DecodedFrame {
  kind: 'frame';
  streamId: string;
  index: number | null;
  /** Unix seconds, or null for "when it arrived". */
  ts: number | null;
  input: FrameInput;
  /** featureDim features, or 33 × 4 keypoint values (NaN = missing). Owned by the caller. */
  values: Float32Array;
}

export type StreamMessage =
  | DecodedFrame
  | { kind: 'open'; message: StreamOpen }
  | { kind: 'close'; streamId: string };

export class StreamMessageError extends Error {
  constructor(readonly detail: string, readonly streamId?: string) {
    super(detail);
  }
}

const KEYPOINT_VALUES_PER_FRAME = KEYPOINT_COUNT * KEYPOINT_VALUES;
const validateOpen = compileValidator(StreamOpen);
const validateFrame = compileValidator(StreamFrame);
const validateClose = compileValidator(StreamClose);
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const STREAM_ID_PATTERN = new RegExp(STREAM_ID_LIMITS.pattern, 'u');
/** Longest stream id in UTF-8 bytes: maxLength characters of up to 4 bytes each. */
const MAX_STREAM_ID_BYTES = STREAM_ID_LIMITS.maxLength * 4;

export function decodeText(text: string, featureDim: number): StreamMessage {
  // Before JSON.parse and the validators recurse into it (a few KB of brackets must not exhaust the stack).
  if (tooDeepAt(text) >= 0) throw new StreamMessageError(`message nests deeper than ${MAX_NESTING_DEPTH} levels`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new StreamMessageError('message is not valid JSON');
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new StreamMessageError('message must be a JSON object');
  const type = (data as { type?: unknown }).type;
  const streamId = typeof (data as { stream_id?: unknown }).stream_id === 'string' ? (data as { stream_id: string }).stream_id : undefined;
  switch (type) {
    case 'open':
      return { kind: 'open', message: check(validateOpen, data, streamId) };
    case 'close':
      return { kind: 'close', streamId: check(validateClose, data, streamId).stream_id };
    case undefined:
    case 'frame':
      return frameFromJson(check(validateFrame, data, streamId), featureDim);
    default:
      throw new StreamMessageError(`unknown message type ${describeValue(type)} (expected open, frame or close)`, streamId);
  }
}

function check<T>(validate: Validator<T>, data: unknown, streamId: string | undefined): T {
  const result = validate(data);
  if (!result.ok) throw new StreamMessageError(result.errors.map(describe).join('; '), streamId);
  return result.value;
}

function describe(item: FastApiErrorItem): string {
  const path = item.loc.slice(1).join('.');
  return path ? `${path}: ${item.msg}` : item.msg;
}

function frameFromJson(frame: StreamFrame, featureDim: number): DecodedFrame {
  const { stream_id: streamId } = frame;
  const hasFeatures = frame.features !== undefined;
  const hasKeypoints = frame.keypoints !== undefined;
  if (hasFeatures === hasKeypoints) throw new StreamMessageError('a frame carries exactly one of features or keypoints', streamId);
  const base = { kind: 'frame' as const, streamId, index: frame.index ?? null, ts: frame.ts ?? null };
  if (hasFeatures) {
    const features = frame.features!;
    if (features.length !== featureDim) throw new StreamMessageError(`features: expected ${featureDim} numbers, got ${features.length}`, streamId);
    const values = Float32Array.from(features);
    assertFinite(values, streamId);
    return { ...base, input: 'features', values };
  }
  const values = new Float32Array(KEYPOINT_VALUES_PER_FRAME).fill(Number.NaN);
  if (frame.keypoints !== null) {
    const points = frame.keypoints!;
    if (points.length !== KEYPOINT_COUNT) throw new StreamMessageError(`keypoints: expected ${KEYPOINT_COUNT} keypoints, got ${points.length}`, streamId);
    points.forEach((point, k) => {
      if (point.length !== KEYPOINT_VALUES) throw new StreamMessageError(`keypoints.${k}: expected [x, y, z, visibility], got ${point.length} values`, streamId);
      for (let v = 0; v < KEYPOINT_VALUES; v++) values[k * KEYPOINT_VALUES + v] = point[v] ?? Number.NaN;
    });
  }
  return { ...base, input: 'keypoints', values };
}

/** The binary layout documented in src/contracts/stream.ts (BINARY_FRAME). */
export function decodeBinary(bytes: ArrayBuffer, featureDim: number): DecodedFrame {
  const { headerBytes, version, kindFeatures, kindKeypoints, noIndex } = BINARY_FRAME;
  if (bytes.byteLength < headerBytes) throw new StreamMessageError(`binary frame: ${bytes.byteLength} bytes is shorter than the ${headerBytes}-byte header`);
  const view = new DataView(bytes);
  if (view.getUint8(0) !== version) throw new StreamMessageError(`binary frame: version ${view.getUint8(0)} (expected ${version})`);
  const kind = view.getUint8(1);
  if (kind !== kindFeatures && kind !== kindKeypoints) throw new StreamMessageError(`binary frame: kind ${kind} (expected 1 = features or 2 = keypoints)`);
  const idLength = view.getUint16(2, true);
  if (idLength === 0 || idLength > MAX_STREAM_ID_BYTES || headerBytes + idLength > bytes.byteLength) throw new StreamMessageError(`binary frame: stream id length ${idLength} does not fit`);
  let streamId: string;
  try {
    streamId = utf8Decoder.decode(new Uint8Array(bytes, headerBytes, idLength));
  } catch {
    throw new StreamMessageError('binary frame: stream id is not UTF-8');
  }
  // The same rules as a JSON stream_id: the length must not reach into the padding (NUL bytes).
  if ([...streamId].length > STREAM_ID_LIMITS.maxLength || !STREAM_ID_PATTERN.test(streamId)) {
    throw new StreamMessageError(`binary frame: stream id must be 1–${STREAM_ID_LIMITS.maxLength} characters without control characters`);
  }
  const index = view.getUint32(4, true);
  const ts = view.getFloat64(8, true);
  if (!Number.isNaN(ts) && !(ts >= UNIX_SECONDS_RANGE.minimum && ts <= UNIX_SECONDS_RANGE.maximum)) {
    throw new StreamMessageError(`binary frame: capture time ${ts} is not a unix time in seconds`, streamId);
  }
  const valuesOffset = headerBytes + Math.ceil(idLength / 4) * 4;
  const expected = kind === kindFeatures ? featureDim : KEYPOINT_VALUES_PER_FRAME;
  const got = (bytes.byteLength - valuesOffset) / 4;
  if (got !== expected) {
    throw new StreamMessageError(`binary frame: expected ${expected} float32 ${kind === kindFeatures ? 'features' : 'keypoint values'}, got ${got}`, streamId);
  }
  // A copy: uWebSockets.js reuses the message buffer once the handler returns.
  const values = new Float32Array(bytes.slice(valuesOffset));
  if (kind === kindFeatures) assertFinite(values, streamId);
  return {
    kind: 'frame',
    streamId,
    index: index === noIndex ? null : index,
    ts: Number.isNaN(ts) ? null : ts,
    input: kind === kindFeatures ? 'features' : 'keypoints',
    values,
  };
}

function assertFinite(values: Float32Array, streamId: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) throw new StreamMessageError(`features.${i}: expected a finite number, got ${values[i]}`, streamId);
  }
}
