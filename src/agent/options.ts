/**
 * What the demo agent is asked to do: the options of runAgent (and of `npm run agent`), their
 * defaults, and the check that turns a partial set into a complete, valid one.
 */
import type { SceneStep } from '../features/synthetic-pose.js';
import type { FrameInput } from '../common/stream-frame-encoding.js';

export type AgentMode = 'http' | 'ws';
export type SocketLayout = 'shared' | 'per-camera';

export interface AgentOptions {
  /** Simulated cameras, named cam-1 … cam-N. */
  cameras: number;
  /** Frames per second per camera. */
  fps: number;
  /** `http`: the seed-compatible POST /behavior/analyze + /event/payload; `ws`: GET /behavior/stream. */
  mode: AgentMode;
  /** The server's base URL (http:// or https://); the stream URL is derived from it. */
  url: string;
  /** Seconds of streaming; 0 = until `signal` aborts. */
  duration: number;
  /** Frames between two analyses. */
  stride: number;
  /** Seconds between the scenes' events (falls, flailing), on average. */
  eventEvery: number;
  /** Seed of the scenes; camera k plays seed + k. */
  seed: number;
  /** ws: binary frames instead of JSON. */
  binary: boolean;
  /** ws: send keypoints (the server computes features) or per-frame features. */
  input: FrameInput;
  /** ws: one socket for up to 16 cameras, or one socket per camera. */
  sockets: SocketLayout;
  /** No live display. */
  quiet: boolean;
  /** Every camera plays these steps instead of a random life script (tests, reproducible demos). */
  script?: readonly SceneStep[];
  /** Stops the run early (Ctrl-C); the agent still drains and returns its summary. */
  signal?: AbortSignal;
}

export const AGENT_DEFAULTS = Object.freeze({
  cameras: 4,
  fps: 30,
  mode: 'ws',
  url: 'http://127.0.0.1:8000',
  duration: 60,
  stride: 4,
  eventEvery: 20,
  seed: 1,
  binary: false,
  input: 'keypoints',
  sockets: 'per-camera',
  quiet: false,
} satisfies Omit<AgentOptions, 'script' | 'signal'>);

/** A problem with the options, worded for the command line. */
export class AgentOptionError extends Error {}

/** Fills in the defaults and checks every value; throws AgentOptionError naming the bad one. */
export function resolveOptions(given: Partial<AgentOptions>): AgentOptions {
  const options: AgentOptions = { ...AGENT_DEFAULTS, ...withoutUndefined(given) };
  const whole = (name: keyof AgentOptions, min: number, max: number) => {
    const value = options[name] as number;
    if (!Number.isInteger(value) || value < min || value > max) throw new AgentOptionError(`--${flag(name)}: expected a whole number from ${min} to ${max}, got ${value}`);
  };
  const positive = (name: keyof AgentOptions, min: number, max: number) => {
    const value = options[name] as number;
    if (!Number.isFinite(value) || value < min || value > max) throw new AgentOptionError(`--${flag(name)}: expected a number from ${min} to ${max}, got ${value}`);
  };
  const oneOf = (name: keyof AgentOptions, allowed: readonly string[]) => {
    if (!allowed.includes(options[name] as string)) throw new AgentOptionError(`--${flag(name)}: expected one of ${allowed.join(', ')}, got ${String(options[name])}`);
  };
  whole('cameras', 1, 1000);
  positive('fps', 0.1, 1000);
  oneOf('mode', ['http', 'ws']);
  positive('duration', 0, 7 * 24 * 3600);
  whole('stride', 1, 10_000);
  positive('eventEvery', 1, 24 * 3600);
  whole('seed', 0, 2 ** 31);
  oneOf('input', ['keypoints', 'features']);
  oneOf('sockets', ['shared', 'per-camera']);
  options.url = baseUrl(options.url);
  return options;
}

/** http(s)://host:port without a trailing slash; a ws(s):// URL is taken to mean the same server. */
function baseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AgentOptionError(`--url: not a URL: ${url}`);
  }
  const protocol = { 'http:': 'http:', 'https:': 'https:', 'ws:': 'http:', 'wss:': 'https:' }[parsed.protocol];
  if (!protocol) throw new AgentOptionError(`--url: expected http:// or https://, got ${parsed.protocol}`);
  return `${protocol}//${parsed.host}`;
}

/** The stream endpoint of a server given by its base URL. */
export function streamUrl(base: string): string {
  return `${base.replace(/^http/, 'ws')}/behavior/stream`;
}

function flag(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
