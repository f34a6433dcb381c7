/**
 * The HTTP contract (API.md) as TypeBox schemas. The same objects validate requests (Ajv) and
 * describe them in /openapi.json, so the docs cannot drift from what the server accepts.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

/** `T | null` as a JSON-Schema type array: one Ajv error instead of an anyOf cascade. */
function Nullable<T extends TSchema>(schema: T, options: Record<string, unknown> = {}) {
  const base = schema as unknown as { type: string };
  return Type.Unsafe<Static<T> | null>({ ...schema, ...options, type: [base.type, 'null'] });
}

// ---- errors -------------------------------------------------------------------------------

export const ValidationErrorItem = Type.Object(
  {
    type: Type.String(),
    loc: Type.Array(Type.Union([Type.String(), Type.Integer()])),
    msg: Type.String(),
    input: Type.Unknown(),
    ctx: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { title: 'ValidationErrorItem' },
);

export const HTTPValidationError = Type.Object(
  { detail: Type.Array(ValidationErrorItem) },
  { title: 'HTTPValidationError', description: 'The body or query failed the schema (or is not JSON): one item per problem.' },
);

export const ErrorMessage = Type.Object(
  { detail: Type.String() },
  { title: 'ErrorMessage', description: 'A request the server understood but cannot serve; the detail says why.' },
);

// ---- health --------------------------------------------------------------------------------

export const HealthResponse = Type.Object({ status: Type.Literal('ok') }, { title: 'HealthResponse' });

export const ReadyResponse = Type.Object(
  {
    status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
    reasons: Type.Optional(Type.Array(Type.String())),
    workers: Type.Optional(Type.Object({ loaded: Type.Integer(), expected: Type.Integer() })),
    device: Type.Optional(Nullable(Type.String(), { description: 'onnxruntime execution provider in use: cuda or cpu' })),
    model: Type.Optional(Type.Object({ path: Type.String(), events: Type.Array(Type.String()), window_size: Type.Integer(), feature_dim: Type.Integer() }, { description: 'the first model of the set (as before several were served)' })),
    models: Type.Optional(Type.Array(Type.Object({ name: Type.String(), version: Type.String(), window_size: Type.Integer(), events: Type.Array(Type.String()) }))),
    reload: Type.Optional(Type.Object({ ok: Type.Boolean(), at: Type.String(), reason: Type.Optional(Type.String()) }, { description: 'the last model reload, once there has been one' })),
    event_log: Type.Optional(Nullable(Type.String())),
    pid: Type.Optional(Type.Integer({ description: 'the server process that answered (BACKEND_PROCESSES: several share the port)' })),
  },
  { title: 'ReadyResponse' },
);

// ---- echo ----------------------------------------------------------------------------------

export const EchoRequest = Type.Object({}, { title: 'EchoRequest', additionalProperties: true, description: 'Any JSON object.', examples: [{ hello: 'docs-example' }] });
export const EchoResponse = Type.Object({ echo: Type.Record(Type.String(), Type.Unknown()), ts: Type.Number() }, { title: 'EchoResponse' });

// ---- behaviour analysis --------------------------------------------------------------------

export const Frame = Type.Object(
  {
    index: Type.Optional(Nullable(Type.Integer(), { description: 'frame number, informational' })),
    features: Type.Array(Type.Number(), { description: 'one frame\'s feature vector (169 numbers for the pose model)' }),
  },
  { title: 'Frame' },
);

export const AnalyzeRequest = Type.Object(
  {
    frames: Type.Array(Frame, { description: 'the window, oldest frame first; as many frames as the model\'s window' }),
    model: Type.Optional(Nullable(Type.String(), { description: 'the model to score it (GET /models); default: the one whose window is this many frames. The query\'s ?model= wins' })),
  },
  // The example (a window of zeros in the loaded model's shape) is set when /openapi.json is built.
  { title: 'AnalyzeRequest' },
);
export type AnalyzeRequest = Static<typeof AnalyzeRequest>;

export const AnalyzeQuery = Type.Object(
  { model: Type.Optional(Type.String({ description: 'the model to score the window (GET /models); default: the one whose window is this many frames' })) },
  { title: 'AnalyzeQuery' },
);
export type AnalyzeQuery = Static<typeof AnalyzeQuery>;

export const AnalyzeResponse = Type.Object(
  {
    is_anomaly: Type.Boolean({ description: 'any(scores[i] >= thresholds[i])' }),
    normal_score: Type.Number({ description: '1 - anomaly_score' }),
    anomaly_score: Type.Number({ description: 'max(scores)' }),
    events: Type.Array(Type.String()),
    scores: Type.Array(Type.Number({ description: 'sigmoid score per event, aligned with events' })),
    thresholds: Type.Array(Type.Number()),
    model: Type.Optional(Type.Object({ name: Type.String(), version: Type.String({ description: 'the checkpoint\'s sha256, shortened' }) }, { description: 'the model that scored it' })),
  },
  { title: 'AnalyzeResponse' },
);
export type AnalyzeResponse = Static<typeof AnalyzeResponse>;

// ---- events --------------------------------------------------------------------------------

/** The validated `/event/payload` body (API.md, Events), as the server and the agents build it. */
export interface EventPayloadInput {
  type: string;
  ts?: number | null;
  frame_idx?: number | null;
  event?: string | null;
  prob?: number | null;
  duration_sec?: number | null;
  state?: string | null;
  top_event?: string | null;
  top_prob?: number | null;
  /** A map name → number, or (the seed's realtime client) a list aligned with `events`. */
  probs?: Record<string, number> | number[] | null;
  events?: string[] | null;
  session_id?: string | null;
  user_id?: string | null;
}

/** Unix seconds when the server started (to 0.1 s): the "Try it out" examples write a plausible
 * time, and a session named so that lines written from the docs are easy to tell apart. */
const EXAMPLE_TS = Math.round(Date.now() / 100) / 10;
const EXAMPLE_SESSION = 'docs-example';

export const EVENT_TYPES = ['START', 'END', 'PROBS', 'HEARTBEAT'] as const;

export const EventPayload = Type.Object(
  {
    type: Type.Unsafe<(typeof EVENT_TYPES)[number]>({ type: 'string', enum: [...EVENT_TYPES] }),
    ts: Type.Optional(Nullable(Type.Number(), { description: 'unix seconds; default: the server\'s time' })),
    frame_idx: Type.Optional(Nullable(Type.Integer())),
    event: Type.Optional(Nullable(Type.String())),
    prob: Type.Optional(Nullable(Type.Number())),
    duration_sec: Type.Optional(Nullable(Type.Number())),
    state: Type.Optional(Nullable(Type.String())),
    top_event: Type.Optional(Nullable(Type.String())),
    top_prob: Type.Optional(Nullable(Type.Number())),
    probs: Type.Optional(
      Type.Unsafe<Record<string, number> | number[] | null>({
        type: ['object', 'array', 'null'],
        additionalProperties: { type: 'number' },
        items: { type: 'number' },
        description: 'event name → score; or a list aligned with `events` (the realtime client\'s form)',
      }),
    ),
    events: Type.Optional(Nullable(Type.Array(Type.String()), { description: 'names for a `probs` list' })),
    session_id: Type.Optional(Nullable(Type.String())),
    user_id: Type.Optional(Nullable(Type.String())),
  },
  {
    title: 'EventPayload',
    examples: [{ type: 'HEARTBEAT', ts: EXAMPLE_TS, frame_idx: 1234, state: 'normal', top_event: 'fall', top_prob: 0.02, session_id: EXAMPLE_SESSION, user_id: null }],
  },
);
export type EventPayload = Static<typeof EventPayload>;

export const StructuredEvent = Type.Object(
  {
    event: Type.Object(
      {
        timestamp: Type.Unsafe<string | number>({ type: ['string', 'number'], description: 'ISO 8601 (an offset is optional; none means UTC) or unix seconds' }),
        event_type: Type.String(),
        session_id: Type.Optional(Nullable(Type.String())),
        user_id: Type.Optional(Nullable(Type.String())),
        data: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
      },
      { title: 'Event' },
    ),
  },
  {
    title: 'StructuredEvent',
    examples: [{ event: { timestamp: new Date(EXAMPLE_TS * 1000).toISOString(), event_type: 'HEARTBEAT', session_id: EXAMPLE_SESSION, user_id: null, data: { state: 'normal' } } }],
  },
);
export type StructuredEvent = Static<typeof StructuredEvent>;

export const EventAccepted = Type.Object({ success: Type.Literal(true), event_id: Type.String({ pattern: '^[0-9a-f]{32}$' }) }, { title: 'EventAccepted' });

export const EventRecordSchema = Type.Object(
  {
    timestamp: Type.String(),
    event_type: Type.String(),
    session_id: Nullable(Type.String()),
    user_id: Nullable(Type.String()),
    data: Nullable(Type.Record(Type.String(), Type.Unknown())),
    event_id: Type.String(),
  },
  { title: 'EventRecord' },
);

export const RecentQuery = Type.Object({ limit: Type.Optional(Type.Integer({ default: 50 })) }, { title: 'RecentQuery' });

// ---- Kakao debug ---------------------------------------------------------------------------

export const SendTestRequest = Type.Object({ text: Type.Optional(Nullable(Type.String())) }, { title: 'SendTestRequest', examples: [{ text: 'test memo from /docs' }] });
export const KakaoDebugResponse = Type.Object(
  { ok: Type.Boolean(), response: Type.Optional(Type.Unknown()), err: Type.Optional(Type.String()) },
  { title: 'KakaoDebugResponse', additionalProperties: true },
);

// ---- models ------------------------------------------------------------------------------

export const ModelInfo = Type.Object(
  {
    name: Type.String({ description: 'the file name without .onnx' }),
    version: Type.String({ description: 'the checkpoint\'s sha256, shortened' }),
    events: Type.Array(Type.String()),
    thresholds: Type.Array(Type.Number()),
    window: Type.Integer({ description: 'frames per window; 0 = any length' }),
    feature_dim: Type.Integer(),
    input_name: Type.String(),
    output_name: Type.String(),
    device: Nullable(Type.String(), { description: 'onnxruntime execution provider: cuda or cpu' }),
    loaded_at: Type.String({ description: 'when this version started taking requests (ISO 8601)' }),
    path: Type.String(),
    source: Type.Record(Type.String(), Type.Unknown(), { description: 'the sidecar\'s source block: checkpoint, sha256, exporter, exported_at, ...' }),
  },
  { title: 'ModelInfo' },
);

export const ModelList = Type.Object({ models: Type.Array(ModelInfo) }, { title: 'ModelList' });

export const ReloadResponse = Type.Object(
  {
    status: Type.Union([Type.Literal('reloaded'), Type.Literal('failed')]),
    at: Type.String(),
    reason: Type.Optional(Type.String({ description: 'why the new set was refused; the previous one keeps serving' })),
    models: Type.Array(Type.Object({ name: Type.String(), version: Type.String() }), { description: 'what serves now' }),
    added: Type.Optional(Type.Array(Type.String())),
    removed: Type.Optional(Type.Array(Type.String())),
    changed: Type.Optional(Type.Array(Type.String())),
  },
  { title: 'ReloadResponse' },
);
