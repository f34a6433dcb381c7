/**
 * Encoding frames as an agent sends them on /behavior/stream: the binary layout of
 * src/contracts/stream.ts (BINARY_FRAME) and the keypoints' JSON form. The demo agent and the
 * tests use these; the server decodes them in src/streams/stream-messages.ts.
 */
import { BINARY_FRAME } from '../contracts/stream.js';
import { KEYPOINT_COUNT, KEYPOINT_VALUES } from '../features/pose-features.js';

export type FrameInput = 'features' | 'keypoints';

const utf8Encoder = new TextEncoder();

/** Builds a binary frame (the encoder agents can copy; used by the demo agent and the tests). */
export function encodeBinaryFrame(streamId: string, input: FrameInput, values: ArrayLike<number>, index: number | null, ts: number | null): ArrayBuffer {
  const id = utf8Encoder.encode(streamId);
  const valuesOffset = BINARY_FRAME.headerBytes + Math.ceil(id.length / 4) * 4;
  const buffer = new ArrayBuffer(valuesOffset + values.length * 4);
  const view = new DataView(buffer);
  view.setUint8(0, BINARY_FRAME.version);
  view.setUint8(1, input === 'features' ? BINARY_FRAME.kindFeatures : BINARY_FRAME.kindKeypoints);
  view.setUint16(2, id.length, true);
  view.setUint32(4, index ?? BINARY_FRAME.noIndex, true);
  view.setFloat64(8, ts ?? Number.NaN, true);
  new Uint8Array(buffer, BINARY_FRAME.headerBytes, id.length).set(id);
  const out = new Float32Array(buffer, valuesOffset, values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i]!;
  return buffer;
}

/**
 * One frame's keypoints as a JSON frame carries them: 33 × [x, y, z, visibility] with null for a
 * missing value, or null when every value is missing (the detection dropped).
 */
export function keypointsJson(values: Float32Array): (number | null)[][] | null {
  if (values.every(Number.isNaN)) return null;
  return Array.from({ length: KEYPOINT_COUNT }, (_, k) =>
    Array.from(values.subarray(k * KEYPOINT_VALUES, (k + 1) * KEYPOINT_VALUES), (v) => (Number.isNaN(v) ? null : v)),
  );
}
