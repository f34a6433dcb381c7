/**
 * The WebSocket stream protocol (GET /behavior/stream): the JSON messages both ways and the
 * binary frame layout. The schemas validate incoming JSON and are published in /openapi.json.
 */
import { Type, type Static } from '@sinclair/typebox';
import { AnalyzeResponse } from './api.js';

/** Stream ids: 1–128 characters, no control characters (the JSON and the binary form share these rules). */
export const STREAM_ID_LIMITS = { maxLength: 128, pattern: '^[^\\u0000-\\u001F\\u007F]+$' } as const;
/** Capture times (unix seconds) within the range of Python's datetime, 0001-01-01 to 9999-12-31. */
export const UNIX_SECONDS_RANGE = { minimum: -62_135_596_800, maximum: 253_402_300_799 } as const;

const StreamId = Type.String({ minLength: 1, ...STREAM_ID_LIMITS, description: 'names the camera or session; one socket may carry several' });
const OptionalNumber = (description: string, limits: { minimum?: number; maximum?: number } = {}) =>
  Type.Optional(Type.Unsafe<number | null>({ type: ['number', 'null'], ...limits, description }));
const OptionalInteger = (description: string) => Type.Optional(Type.Unsafe<number | null>({ type: ['integer', 'null'], description }));
const OptionalString = (description: string) => Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 256, description }));

export const StreamOpen = Type.Object(
  {
    type: Type.Literal('open'),
    stream_id: StreamId,
    stride: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'frames between two analyses (default BACKEND_STREAM_STRIDE)' })),
    model: Type.Optional(Type.String({ maxLength: 256, description: 'the model to analyse this stream (GET /models); default: the one whose window is the stream\'s window' })),
    window: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'frames per window (default: the named model\'s, else BACKEND_STREAM_WINDOW); without a model, picks the model whose window it is' })),
    events: Type.Optional(Type.Boolean({ description: 'server-side START/END/PROBS events for this stream (default false)' })),
    probs_every: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'a PROBS event every N analyses (default BACKEND_STREAM_PROBS_EVERY; 0 = none)' })),
    session_id: OptionalString('session_id of the events this stream writes (default: the stream_id)'),
    user_id: OptionalString('user_id of the events this stream writes'),
  },
  { title: 'StreamOpen' },
);
export type StreamOpen = Static<typeof StreamOpen>;

export const StreamFrame = Type.Object(
  {
    type: Type.Optional(Type.Literal('frame')),
    stream_id: StreamId,
    index: OptionalInteger('frame number, echoed in analyses and events'),
    ts: OptionalNumber('capture time, unix seconds (default: arrival time)', UNIX_SECONDS_RANGE),
    features: Type.Optional(Type.Array(Type.Number(), { description: 'this frame\'s feature vector (169 numbers)' })),
    keypoints: Type.Optional(
      Type.Unsafe<number[][] | null>({
        type: ['array', 'null'],
        items: { type: 'array', items: { type: ['number', 'null'] } },
        description: '33 MediaPipe keypoints as [x, y, z, visibility]; null = no person detected',
      }),
    ),
  },
  { title: 'StreamFrame', description: 'One frame: exactly one of features or keypoints.' },
);
export type StreamFrame = Static<typeof StreamFrame>;

export const StreamClose = Type.Object({ type: Type.Literal('close'), stream_id: StreamId }, { title: 'StreamClose' });
export type StreamClose = Static<typeof StreamClose>;

export const StreamOpened = Type.Object(
  {
    type: Type.Literal('opened'),
    stream_id: Type.String(),
    window: Type.Integer(),
    stride: Type.Integer(),
    events: Type.Boolean(),
    probs_every: Type.Integer(),
    session_id: Type.String(),
    model: Type.Optional(Type.String({ description: 'the model that analyses it now (a reload may move it to a new version; each analysis names it)' })),
  },
  { title: 'StreamOpened' },
);

export const StreamAnalysis = Type.Composite(
  [
    Type.Object({
      type: Type.Literal('analysis'),
      stream_id: Type.String(),
      index: Type.Unsafe<number | null>({ type: ['integer', 'null'], description: 'index of the newest frame in the window' }),
      frames: Type.Integer({ description: 'frames in the window' }),
      latency_ms: Type.Number({ description: 'from the arrival of the newest frame to this message' }),
      dropped: Type.Integer({ description: 'analyses of this stream dropped since the last one sent (slow consumer or overload)' }),
    }),
    AnalyzeResponse,
  ],
  { title: 'StreamAnalysis' },
);

export const StreamEventNotice = Type.Object(
  {
    type: Type.Literal('event'),
    stream_id: Type.String(),
    event_id: Type.String(),
    payload: Type.Record(Type.String(), Type.Unknown(), { description: 'the event as written to the log (the /event/payload fields)' }),
  },
  { title: 'StreamEventNotice' },
);

export const StreamErrorNotice = Type.Object(
  {
    type: Type.Literal('error'),
    stream_id: Type.Optional(Type.String()),
    code: Type.String({ description: 'bad_message | unknown_stream | limit | overloaded | model_unavailable' }),
    detail: Type.String(),
  },
  { title: 'StreamErrorNotice' },
);

export const StreamClosed = Type.Object({ type: Type.Literal('closed'), stream_id: Type.String() }, { title: 'StreamClosed' });

/**
 * The binary frame: a 16-byte header, the stream id, then float32 values, all little-endian.
 *
 *   offset 0  u8   version (1)
 *          1  u8   kind: 1 = features (featureDim values), 2 = keypoints (33 × 4 values, NaN = missing)
 *          2  u16  byte length L of the UTF-8 stream id
 *          4  u32  frame index (0xFFFFFFFF = none)
 *          8  f64  capture time, unix seconds (NaN = arrival time)
 *         16  L bytes stream id, then zero padding to a multiple of 4
 *          …  float32 values
 */
export const BINARY_FRAME = {
  version: 1,
  headerBytes: 16,
  kindFeatures: 1,
  kindKeypoints: 2,
  noIndex: 0xffffffff,
} as const;
