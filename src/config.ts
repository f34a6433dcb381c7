/**
 * Configuration: the only reader of process.env and `.env`.
 *
 * ENV_SCHEMA is the single list of variables (name, type, default, one line of meaning);
 * `.env.example` mirrors it and a test keeps the two in step. loadConfig() validates once and
 * returns a frozen Config cut into the slices each part of the server needs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import dotenv from 'dotenv';
import { listModelSet, ModelError, type ModelEntry } from './common/model-meta.js';
import { BUNDLED_MODELS_DIR } from './common/paths.js';
import { DEFAULT_EVENT_LOG, DEFAULT_NATS_STREAM, DEFAULT_NATS_URL, DEFAULT_STREAM_END_AFTER, DEFAULT_STREAM_START_AFTER, DEFAULT_STREAM_WINDOW, DEFAULT_STREAMS_PER_SOCKET } from './common/defaults.js';
import { natsServers } from './common/nats-url.js';
import { INFERENCE_DEVICES, type InferenceDevice } from './contracts/inference.js';
import { EVENT_STORES, FSYNC_POLICIES, type EventsConfig, type IdempotencyConfig, type KakaoConfig, type NatsStoreConfig } from './contracts/writer.js';

export type { IdempotencyConfig };

const Str = (def: string, description: string) => Type.String({ default: def, description });
const OptStr = (description: string) => Type.String({ default: '', description });
const Int = (def: number, min: number, max: number, description: string) =>
  Type.Integer({ default: def, minimum: min, maximum: max, description });
const Num = (def: number, min: number, max: number, description: string) =>
  Type.Number({ default: def, minimum: min, maximum: max, description });
const Enum = <T extends string>(values: readonly T[], def: T, description: string) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], default: def, description });
const Bool = (def: boolean, description: string) => Type.Boolean({ default: def, description });


export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const ACCESS_LOG_MODES = ['off', 'errors', 'all'] as const;
export type AccessLogMode = (typeof ACCESS_LOG_MODES)[number];

/** Every variable the server reads. Order here is the order of `.env.example`. */
export const ENV_SCHEMA = Type.Object({
  // model and inference
  MODEL_CHECKPOINT_PATH: OptStr('the models to serve: an ONNX file (metadata JSON beside it), a directory (every *.onnx in it), or a comma-separated list of either; empty = the bundled models/ (window 16 and window 60)'),
  BACKEND_MODEL_CHECKPOINT_PATH: OptStr('alias of MODEL_CHECKPOINT_PATH (the seed\'s name); MODEL_CHECKPOINT_PATH wins'),
  BACKEND_INFERENCE_DEVICE: Enum(INFERENCE_DEVICES, 'auto', 'auto = CUDA provider when it loads, else CPU; cpu; cuda (fail if CUDA cannot load)'),
  BACKEND_INFERENCE_WORKERS: Int(0, 0, 256, 'inference worker threads per server process; 0 = the process\'s share of the cores (cores ÷ BACKEND_PROCESSES) but one (its main thread\'s), at least 1'),
  BACKEND_INFERENCE_THREADS: Int(1, 1, 64, 'onnxruntime intra-op threads per worker'),
  BACKEND_BATCH_MAX_SIZE: Int(32, 1, 1024, 'most windows joined into one session.run'),
  BACKEND_BATCH_MAX_WAIT_MS: Num(0, 0, 1000, 'longest a window waits for others to join its batch when a worker is free (0 = leave at once; batches still fill while workers are busy)'),
  BACKEND_QUEUE_MAX: Int(2048, 1, 1_000_000, 'windows waiting for a worker before /behavior/analyze answers 503'),
  // HTTP
  BACKEND_HOST: Str('0.0.0.0', 'listen address'),
  BACKEND_PORT: Int(8000, 0, 65535, 'listen port (0 = any free port)'),
  BACKEND_MAX_BODY_BYTES: Int(1_048_576, 1024, 1_073_741_824, 'largest request body; larger gets 413'),
  BACKEND_CORS_ORIGINS: Str('*', 'web origins allowed (CORS) on the agent and read routes and the stream WebSocket, comma-separated, or *; never the debug endpoints'),
  BACKEND_SHUTDOWN_TIMEOUT_MS: Int(10_000, 0, 600_000, 'on SIGTERM/SIGINT, longest wait for in-flight work before exit'),
  BACKEND_LOG_LEVEL: Enum(LOG_LEVELS, 'info', 'pino log level'),
  BACKEND_ACCESS_LOG: Enum(ACCESS_LOG_MODES, 'errors', 'a log line per request: off; errors = 4xx/5xx answers (method, path, status, ms); all = every request'),
  BACKEND_ACCESS_LOG_RATE: Int(100, 1, 1_000_000, 'most access log lines a second (as many more in a burst); the rest are counted in one summary line a second'),
  BACKEND_ADMIN_TOKEN: OptStr('when set, the Kakao debug endpoints need Authorization: Bearer <this>'),
  BACKEND_REUSE_PORT: Bool(false, 'share BACKEND_PORT with other processes that also set it (SO_REUSEPORT); false = refuse to start on a port in use'),
  BACKEND_PROCESSES: Int(1, 0, 256, 'server processes sharing BACKEND_PORT, each with its own main thread and inference workers; more than 1 needs BACKEND_EVENT_STORE=nats; 0 = one per 2 cores (1 with the file store)'),
  // event log
  BACKEND_EVENT_STORE: Enum(EVENT_STORES, 'file', 'file = the JSONL log below, this process alone; nats = a NATS JetStream stream shared by every replica (README: More than one process)'),
  BACKEND_EVENT_LOG_JSONL: Str(DEFAULT_EVENT_LOG, 'event log path; empty = keep no file'),
  BACKEND_EVENT_KEEP_RECENT: Int(200, 0, 1_000_000, 'recent events kept in memory (and refilled from the log at start)'),
  BACKEND_EVENT_FSYNC: Enum(FSYNC_POLICIES, 'batch', 'batch = fsync every group commit; interval = every BACKEND_EVENT_FSYNC_INTERVAL_MS; never = leave it to the OS'),
  BACKEND_EVENT_FSYNC_INTERVAL_MS: Int(1000, 1, 3_600_000, 'fsync period for BACKEND_EVENT_FSYNC=interval'),
  BACKEND_EVENT_BACKLOG_MAX: Int(10_000, 1, 10_000_000, 'events waiting to be written before /event/payload answers 503'),
  BACKEND_EVENT_MAX_BYTES: Int(16_384, 1024, 1_048_576, 'largest event, as its log line in bytes; a larger event is refused with 413'),
  BACKEND_IDEMPOTENCY_WINDOW_SEC: Int(86_400, 1, 31_536_000, 'how long an Idempotency-Key on /event/payload and /event is remembered'),
  BACKEND_IDEMPOTENCY_MAX_KEYS: Int(100_000, 1, 10_000_000, 'most Idempotency-Keys remembered; the oldest is forgotten first'),
  // the NATS JetStream store (BACKEND_EVENT_STORE=nats)
  NATS_URL: Str(DEFAULT_NATS_URL, 'NATS server URL; a comma-separated list for a cluster'),
  BACKEND_NATS_STREAM: Str(DEFAULT_NATS_STREAM, 'JetStream stream of the event records; its consumer and buckets are named after it'),
  BACKEND_NATS_REPLICAS: Int(1, 1, 5, 'stream and bucket replicas: 1 on one NATS node, 3 on a three-node cluster'),
  BACKEND_NATS_MAX_AGE_SEC: Int(2_592_000, 0, 3_153_600_000, 'records older than this are removed from the stream; 0 = kept whatever their age'),
  BACKEND_NATS_MAX_BYTES: Int(0, 0, Number.MAX_SAFE_INTEGER, 'the stream\'s size limit in bytes, oldest removed first; 0 = no limit'),
  // Kakao
  KAKAO_ACCESS_TOKEN: OptStr('Kakao access token; unset = no memos (logged once)'),
  KAKAO_REST_API_KEY: OptStr('Kakao app REST API key; with KAKAO_REFRESH_TOKEN enables token refresh'),
  KAKAO_REFRESH_TOKEN: OptStr('Kakao refresh token (the token file, once written, takes over)'),
  KAKAO_CLIENT_SECRET: OptStr('Kakao client secret, only if the app has one switched on'),
  KAKAO_TOKEN_FILE: Str('kakao-token.json', 'where refreshed tokens are saved and read back at start'),
  KAKAO_API_BASE_URL: Str('https://kapi.kakao.com', 'Kakao API base URL (tests and proxies)'),
  KAKAO_AUTH_BASE_URL: Str('https://kauth.kakao.com', 'Kakao OAuth base URL (tests and proxies)'),
  KAKAO_TIMEOUT_MS: Int(5000, 100, 120_000, 'timeout of one Kakao call'),
  KAKAO_ALERT_COOLDOWN_SEC: Num(0, 0, 86_400, 'least time between two memos for the same (session, event); 0 = one memo per END'),
  KAKAO_ALERT_MAX_AGE_SEC: Num(600, 0, 86_400, 'memos older than this when their turn comes are dropped (counted as stale); 0 = no limit'),
  ALERT_LINK_URL: OptStr('memo button link; unset = no link'),
  ALERT_BUTTON_TITLE: Str('확인하러 가기', 'memo button title'),
  ALERT_TIMEZONE: Str('Asia/Seoul', 'IANA time zone of the memo\'s times of day (shown on the memo)'),
  // the watch page
  BACKEND_PUBLIC_URL: OptStr('the address people reach this server at (e.g. https://watch.example); with it the memo\'s button opens the event\'s page when ALERT_LINK_URL is unset'),
  BACKEND_WATCH_TOKEN: OptStr('when set, /watch and its live feed need this token (or BACKEND_ADMIN_TOKEN)'),
  // WebSocket streams
  BACKEND_STREAM_WINDOW: Int(0, 0, 10_000, 'frames per analysis window for streams whose model has no fixed window; 0 = 16'),
  BACKEND_STREAM_STRIDE: Int(4, 1, 10_000, 'default frames between two analyses of a stream'),
  BACKEND_STREAM_MAX_PER_SOCKET: Int(DEFAULT_STREAMS_PER_SOCKET, 1, 10_000, 'most streams one WebSocket may open'),
  BACKEND_STREAM_MAX_TOTAL: Int(1024, 1, 1_000_000, 'most streams open on the server'),
  BACKEND_STREAM_MAX_PER_CLIENT: Int(256, 1, 1_000_000, 'most streams open from one client address (all its sockets together)'),
  BACKEND_WS_MAX_MESSAGE_BYTES: Int(65_536, 1024, 16_777_216, 'largest WebSocket message; larger closes the socket'),
  BACKEND_WS_IDLE_TIMEOUT_SEC: Int(60, 0, 3600, 'close a WebSocket silent this long: 0 = never, else at least 8'),
  BACKEND_WS_MAX_BACKPRESSURE_BYTES: Int(1_048_576, 1024, 1_073_741_824, 'unsent bytes on a socket over which analyses are dropped'),
  BACKEND_STREAM_START_AFTER: Int(DEFAULT_STREAM_START_AFTER, 1, 1000, 'consecutive analyses at/over threshold before a server-side START'),
  BACKEND_STREAM_END_AFTER: Int(DEFAULT_STREAM_END_AFTER, 1, 1000, 'consecutive analyses under threshold before a server-side END'),
  BACKEND_STREAM_PROBS_EVERY: Int(0, 0, 1_000_000, 'write a PROBS event every N analyses of a stream with events on; 0 = never'),
});

export type Env = Static<typeof ENV_SCHEMA>;

/** A configuration problem, reported at start as one line naming the variable. */
export class ConfigError extends Error {
  constructor(readonly variable: string, reason: string) {
    super(`${variable}: ${reason}`);
    this.name = 'ConfigError';
  }
}

export interface ModelConfig {
  /** The set as configured (absolute paths of files and directories): re-read on every reload. */
  sources: readonly string[];
  /** The models it named at start (each file's metadata JSON sits beside it). */
  models: readonly ModelEntry[];
  /** The variable the set came from, for messages. */
  variable: string;
}

export interface InferenceConfig {
  device: InferenceDevice;
  workers: number;
  intraOpThreads: number;
  maxBatch: number;
  maxWaitMs: number;
  queueMax: number;
}

export interface HttpConfig {
  host: string;
  port: number;
  maxBodyBytes: number;
  /** ['*'] or an explicit list. */
  corsOrigins: readonly string[];
  shutdownTimeoutMs: number;
  adminToken: string | null;
  accessLog: { mode: AccessLogMode; linesPerSecond: number };
  /** Listen with SO_REUSEPORT (share the port) instead of exclusively. */
  reusePort: boolean;
}

export interface WatchConfig {
  /** Null: the page is open to whoever reaches the server. */
  token: string | null;
  /** The server's public address without a trailing slash, or null. */
  publicUrl: string | null;
}

export interface StreamConfig {
  defaultWindow: number;
  defaultStride: number;
  maxPerSocket: number;
  maxTotal: number;
  maxPerClient: number;
  maxMessageBytes: number;
  idleTimeoutSec: number;
  maxBackpressureBytes: number;
  startAfter: number;
  endAfter: number;
  probsEvery: number;
}

export interface Config {
  /** Server processes on the port (BACKEND_PROCESSES resolved): above 1, this process supervises them. */
  processes: number;
  model: ModelConfig;
  inference: InferenceConfig;
  http: HttpConfig;
  events: EventsConfig;
  idempotency: IdempotencyConfig;
  kakao: KakaoConfig;
  stream: StreamConfig;
  watch: WatchConfig;
  logLevel: (typeof LOG_LEVELS)[number];
}

const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: false });
const validateEnv = ajv.compile<Env>(ENV_SCHEMA);

/**
 * Reads `.env` in `cwd` (if any) under `env` (the environment wins), validates every variable
 * and returns the frozen configuration. Throws ConfigError naming the first bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Readonly<Config> {
  const fromFile = readDotEnv(cwd);
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(ENV_SCHEMA.properties)) {
    const value = env[key] ?? fromFile[key];
    // An empty optional string means "unset"; for typed variables it would be a mistake to hide.
    if (value !== undefined) raw[key] = isStringSchema(key) ? value : value.trim();
  }
  if (!validateEnv(raw)) {
    const err = validateEnv.errors![0]!;
    const variable = err.instancePath.slice(1) || String(err.params?.missingProperty ?? 'environment');
    const got = variable in raw ? ` (got ${JSON.stringify(env[variable] ?? fromFile[variable])})` : '';
    throw new ConfigError(variable, `${describeAjvError(err)}${got}`);
  }
  return deepFreeze(buildConfig(raw as Env, cwd));
}

function buildConfig(e: Env, cwd: string): Config {
  const modelVar = e.MODEL_CHECKPOINT_PATH ? 'MODEL_CHECKPOINT_PATH' : 'BACKEND_MODEL_CHECKPOINT_PATH';
  const modelSetting = e.MODEL_CHECKPOINT_PATH || e.BACKEND_MODEL_CHECKPOINT_PATH;
  const modelSources = modelSetting
    ? modelSetting.split(',').map((p) => p.trim()).filter((p) => p.length > 0).map((p) => resolve(cwd, p))
    : [BUNDLED_MODELS_DIR];
  const variable = modelSetting ? modelVar : 'MODEL_CHECKPOINT_PATH';
  if (modelSources.length === 0) throw new ConfigError(variable, `names no model (got ${JSON.stringify(modelSetting)})`);
  let models: ModelEntry[];
  try {
    models = listModelSet(modelSources);
  } catch (err) {
    if (err instanceof ModelError) throw new ConfigError(variable, err.message);
    throw err;
  }

  for (const key of ['KAKAO_API_BASE_URL', 'KAKAO_AUTH_BASE_URL', 'ALERT_LINK_URL', 'BACKEND_PUBLIC_URL'] as const) {
    if (e[key] && !isHttpUrl(e[key])) throw new ConfigError(key, `not an http(s) URL (got ${JSON.stringify(e[key])})`);
  }
  if (!isTimeZone(e.ALERT_TIMEZONE)) throw new ConfigError('ALERT_TIMEZONE', `not an IANA time zone name such as Asia/Seoul (got ${JSON.stringify(e.ALERT_TIMEZONE)})`);
  const publicUrl = e.BACKEND_PUBLIC_URL ? e.BACKEND_PUBLIC_URL.replace(/\/+$/, '') : null;
  if (e.BACKEND_WS_IDLE_TIMEOUT_SEC > 0 && e.BACKEND_WS_IDLE_TIMEOUT_SEC < 8) {
    // uWebSockets.js checks idle sockets every 4 s and aborts the process on a shorter timeout.
    throw new ConfigError('BACKEND_WS_IDLE_TIMEOUT_SEC', `must be 0 (never) or at least 8 (got ${e.BACKEND_WS_IDLE_TIMEOUT_SEC})`);
  }
  const cores = availableParallelism();
  const processes = serverProcesses(e, cores);
  // Each process's main thread (HTTP, decoding, batching) needs a core of its own: measured, two
  // workers on two cores serve fewer requests than one (bench/RESULTS.md).
  const processCores = Math.max(1, Math.floor(cores / processes));
  return {
    processes,
    model: { sources: modelSources, models, variable },
    inference: {
      device: e.BACKEND_INFERENCE_DEVICE,
      workers: e.BACKEND_INFERENCE_WORKERS || Math.max(1, Math.floor((processCores - 1) / e.BACKEND_INFERENCE_THREADS)),
      intraOpThreads: e.BACKEND_INFERENCE_THREADS,
      maxBatch: e.BACKEND_BATCH_MAX_SIZE,
      maxWaitMs: e.BACKEND_BATCH_MAX_WAIT_MS,
      queueMax: e.BACKEND_QUEUE_MAX,
    },
    http: {
      host: e.BACKEND_HOST,
      port: e.BACKEND_PORT,
      maxBodyBytes: e.BACKEND_MAX_BODY_BYTES,
      corsOrigins: e.BACKEND_CORS_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean),
      shutdownTimeoutMs: e.BACKEND_SHUTDOWN_TIMEOUT_MS,
      adminToken: e.BACKEND_ADMIN_TOKEN || null,
      accessLog: { mode: e.BACKEND_ACCESS_LOG, linesPerSecond: e.BACKEND_ACCESS_LOG_RATE },
      reusePort: e.BACKEND_REUSE_PORT,
    },
    events: {
      store: e.BACKEND_EVENT_STORE,
      logPath: e.BACKEND_EVENT_STORE === 'file' && e.BACKEND_EVENT_LOG_JSONL ? resolve(cwd, e.BACKEND_EVENT_LOG_JSONL) : null,
      nats: e.BACKEND_EVENT_STORE === 'nats' ? natsStore(e) : null,
      keepRecent: e.BACKEND_EVENT_KEEP_RECENT,
      fsync: e.BACKEND_EVENT_FSYNC,
      fsyncIntervalMs: e.BACKEND_EVENT_FSYNC_INTERVAL_MS,
      backlogMax: e.BACKEND_EVENT_BACKLOG_MAX,
      maxEventBytes: e.BACKEND_EVENT_MAX_BYTES,
    },
    idempotency: { windowSec: e.BACKEND_IDEMPOTENCY_WINDOW_SEC, maxKeys: e.BACKEND_IDEMPOTENCY_MAX_KEYS },
    kakao: {
      accessToken: e.KAKAO_ACCESS_TOKEN || null,
      restApiKey: e.KAKAO_REST_API_KEY || null,
      refreshToken: e.KAKAO_REFRESH_TOKEN || null,
      clientSecret: e.KAKAO_CLIENT_SECRET || null,
      tokenFile: resolve(cwd, e.KAKAO_TOKEN_FILE),
      apiBaseUrl: e.KAKAO_API_BASE_URL.replace(/\/+$/, ''),
      authBaseUrl: e.KAKAO_AUTH_BASE_URL.replace(/\/+$/, ''),
      timeoutMs: e.KAKAO_TIMEOUT_MS,
      cooldownSec: e.KAKAO_ALERT_COOLDOWN_SEC,
      maxAgeSec: e.KAKAO_ALERT_MAX_AGE_SEC,
      linkUrl: e.ALERT_LINK_URL || null,
      buttonTitle: e.ALERT_BUTTON_TITLE,
      timeZone: e.ALERT_TIMEZONE,
      eventPageBase: publicUrl ? `${publicUrl}/watch/events/` : null,
    },
    stream: {
      defaultWindow: e.BACKEND_STREAM_WINDOW || DEFAULT_STREAM_WINDOW,
      defaultStride: e.BACKEND_STREAM_STRIDE,
      maxPerSocket: e.BACKEND_STREAM_MAX_PER_SOCKET,
      maxTotal: e.BACKEND_STREAM_MAX_TOTAL,
      maxPerClient: e.BACKEND_STREAM_MAX_PER_CLIENT,
      maxMessageBytes: e.BACKEND_WS_MAX_MESSAGE_BYTES,
      idleTimeoutSec: e.BACKEND_WS_IDLE_TIMEOUT_SEC,
      maxBackpressureBytes: e.BACKEND_WS_MAX_BACKPRESSURE_BYTES,
      startAfter: e.BACKEND_STREAM_START_AFTER,
      endAfter: e.BACKEND_STREAM_END_AFTER,
      probsEvery: e.BACKEND_STREAM_PROBS_EVERY,
    },
    watch: { token: e.BACKEND_WATCH_TOKEN || null, publicUrl },
    logLevel: e.BACKEND_LOG_LEVEL,
  };
}

/** BACKEND_PROCESSES=0: a main thread and an inference worker per process (see serverProcesses). */
const CORES_PER_AUTO_PROCESS = 2;

/**
 * How many server processes share the port. Auto (0): one per 2 cores — a main thread and an
 * inference worker each. Measured (bench/RESULTS.md, "More than one process"): a 16-frame window
 * costs the main thread about as much CPU as the worker's inference (0.14 ms each), so one worker
 * keeps up with one main thread; a 60-frame window costs the main thread three times the worker's,
 * and a GPU leaves the worker little to do, so a third core per process would idle. The file
 * store belongs to one process, so with it auto means 1 and more is refused.
 */
function serverProcesses(e: Env, cores: number): number {
  if (e.BACKEND_EVENT_STORE === 'file') {
    if (e.BACKEND_PROCESSES > 1) {
      throw new ConfigError('BACKEND_PROCESSES', `${e.BACKEND_PROCESSES} processes need the shared event store (BACKEND_EVENT_STORE=nats); the file store is this process alone`);
    }
    return 1;
  }
  return e.BACKEND_PROCESSES || Math.max(1, Math.floor(cores / CORES_PER_AUTO_PROCESS));
}

function natsStore(e: Env): NatsStoreConfig {
  const servers = natsServers(e.NATS_URL);
  if (servers.length === 0) throw new ConfigError('NATS_URL', 'names no server');
  // JetStream stream names: no spaces, dots, wildcards or path separators.
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(e.BACKEND_NATS_STREAM)) {
    throw new ConfigError('BACKEND_NATS_STREAM', `use letters, digits, _ and - only, at most 64 (got ${JSON.stringify(e.BACKEND_NATS_STREAM)})`);
  }
  return {
    servers,
    stream: e.BACKEND_NATS_STREAM,
    replicas: e.BACKEND_NATS_REPLICAS,
    maxAgeSec: e.BACKEND_NATS_MAX_AGE_SEC,
    maxBytes: e.BACKEND_NATS_MAX_BYTES,
    replicaId: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
  };
}

function readDotEnv(cwd: string): Record<string, string> {
  const file = resolve(cwd, '.env');
  if (!existsSync(file)) return {};
  try {
    return dotenv.parse(readFileSync(file));
  } catch (err) {
    throw new ConfigError('.env', `cannot read ${file}: ${(err as Error).message}`);
  }
}

function isStringSchema(key: string): boolean {
  const schema = (ENV_SCHEMA.properties as Record<string, TSchema>)[key];
  return schema?.type === 'string';
}

function describeAjvError(err: { keyword: string; message?: string; params: Record<string, unknown> }): string {
  if (err.keyword === 'enum') return `must be one of ${(err.params.allowedValues as string[]).join(', ')}`;
  return err.message ?? 'invalid value';
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Whether Intl knows `zone` (an IANA name such as Asia/Seoul, or UTC). */
function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return zone.length > 0;
  } catch {
    return false;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
