/**
 * What is measured: the server scenarios (route, bodies, server settings) and the baselines,
 * and the names a user can pick with --scenario.
 */
import { join } from 'node:path';
import type { AgentOptions } from '../src/agent/options.js';
import { BUNDLED_MODEL_PATH, BUNDLED_MODELS_DIR, PROJECT_ROOT } from '../src/common/paths.js';
import { analyzeBodies, eventBodies } from './bodies.js';

export const W60_MODEL_PATH = join(PROJECT_ROOT, 'test', 'fixtures', 'random-w60', 'model.onnx');

export interface ServerScenario {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  /** The server's route name in /metrics. */
  route: string;
  modelPath: string;
  /** Event scenarios run to a request count, so every request sent is answered and can be found in the store. */
  countsEvents: boolean;
  bodies(): string[];
  /** The event store: the JSONL log (absent) or a NATS stream of the measurement's own. */
  store?: 'nats';
  /** Several server processes on the port (the --processes count) under the supervisor; needs the NATS store. */
  multiProcess?: boolean;
}

export const SERVER_SCENARIOS: readonly ServerScenario[] = [
  { name: 'analyze-16', method: 'POST', path: '/behavior/analyze', route: 'behavior_analyze', modelPath: BUNDLED_MODEL_PATH, countsEvents: false, bodies: () => analyzeBodies(16, 32) },
  // The default set (both bundled models, windows 16 and 60) answering the same 16-frame load: what holding two models costs.
  { name: 'analyze-16-set', method: 'POST', path: '/behavior/analyze', route: 'behavior_analyze', modelPath: BUNDLED_MODELS_DIR, countsEvents: false, bodies: () => analyzeBodies(16, 32) },
  // Both agents at once on the default set: half 16-frame, half 60-frame windows.
  { name: 'analyze-mixed', method: 'POST', path: '/behavior/analyze', route: 'behavior_analyze', modelPath: BUNDLED_MODELS_DIR, countsEvents: false, bodies: () => [...analyzeBodies(16, 16), ...analyzeBodies(60, 16)] },
  { name: 'analyze-60', method: 'POST', path: '/behavior/analyze', route: 'behavior_analyze', modelPath: W60_MODEL_PATH, countsEvents: false, bodies: () => analyzeBodies(60, 16) },
  { name: 'event-probs', method: 'POST', path: '/event/payload', route: 'event_payload', modelPath: BUNDLED_MODEL_PATH, countsEvents: true, bodies: () => eventBodies('PROBS', 64) },
  { name: 'event-end', method: 'POST', path: '/event/payload', route: 'event_payload', modelPath: BUNDLED_MODEL_PATH, countsEvents: true, bodies: () => eventBodies('END', 64) },
  { name: 'health', method: 'GET', path: '/health', route: 'health', modelPath: BUNDLED_MODEL_PATH, countsEvents: false, bodies: () => [] },
  // The shared store beside the file store: every acknowledged record must be in the stream.
  { name: 'event-probs-nats', method: 'POST', path: '/event/payload', route: 'event_payload', modelPath: BUNDLED_MODEL_PATH, countsEvents: true, bodies: () => eventBodies('PROBS', 64), store: 'nats' },
  // Several processes on one port against the one-process scenarios of the same name.
  { name: 'analyze-16-processes', method: 'POST', path: '/behavior/analyze', route: 'behavior_analyze', modelPath: BUNDLED_MODEL_PATH, countsEvents: false, bodies: () => analyzeBodies(16, 32), store: 'nats', multiProcess: true },
  { name: 'health-processes', method: 'GET', path: '/health', route: 'health', modelPath: BUNDLED_MODEL_PATH, countsEvents: false, bodies: () => [], store: 'nats', multiProcess: true },
  { name: 'event-probs-nats-processes', method: 'POST', path: '/event/payload', route: 'event_payload', modelPath: BUNDLED_MODEL_PATH, countsEvents: true, bodies: () => eventBodies('PROBS', 64), store: 'nats', multiProcess: true },
];

/** The routes the bare uWebSockets.js baseline answers, with the server scenario whose bodies each gets. */
export const BARE_ROUTES: readonly { name: string; scenario: string }[] = [
  { name: 'bare-health', scenario: 'health' },
  { name: 'bare-analyze', scenario: 'analyze-16' },
  { name: 'bare-event', scenario: 'event-probs' },
];

/** The streaming benchmark's modes: the demo agent's ways of feeding the server, run at rising camera counts. */
export interface StreamMode {
  name: string;
  description: string;
  agent: Pick<AgentOptions, 'mode' | 'input' | 'binary'>;
}

export const STREAM_MODES: readonly StreamMode[] = [
  { name: 'stream-ws-keypoints', description: 'WebSocket, JSON keypoints (the server computes features)', agent: { mode: 'ws', input: 'keypoints', binary: false } },
  { name: 'stream-ws-features', description: 'WebSocket, binary per-frame features', agent: { mode: 'ws', input: 'features', binary: true } },
  { name: 'stream-http', description: 'HTTP, a 16-frame window POSTed to /behavior/analyze every 4 frames', agent: { mode: 'http', input: 'keypoints', binary: false } },
];

export const BASELINE_NAMES = ['ceiling', 'bare-uws', 'bare-uws-threads', 'bare-uws-processes', 'naive'] as const;
export type BaselineName = (typeof BASELINE_NAMES)[number];

/** The scenarios whose servers the memory soak loads (not part of "all": it adds a few minutes). */
export const MEMORY_SCENARIOS: readonly string[] = ['analyze-16', 'analyze-60', 'event-probs'];

export interface Selection {
  scenarios: ServerScenario[];
  baselines: Set<BaselineName>;
  memory: boolean;
  streams: StreamMode[];
}

/** The scenarios that need a NATS server (NATS_URL, default nats://127.0.0.1:4222): not part of "all". */
const NEEDS_NATS = SERVER_SCENARIOS.filter((s) => s.store === 'nats').map((s) => s.name);

const GROUPS: Record<string, { scenarios: string[]; baselines: BaselineName[] }> = {
  all: { scenarios: SERVER_SCENARIOS.map((s) => s.name).filter((name) => !NEEDS_NATS.includes(name)), baselines: ['ceiling', 'bare-uws', 'naive'] },
  analyze: { scenarios: ['analyze-16', 'analyze-16-set', 'analyze-mixed', 'analyze-60'], baselines: ['ceiling'] },
  events: { scenarios: ['event-probs', 'event-end'], baselines: [] },
  health: { scenarios: ['health'], baselines: [] },
  baselines: { scenarios: [], baselines: ['ceiling', 'bare-uws', 'naive'] },
  stores: { scenarios: ['event-probs', 'event-probs-nats'], baselines: [] },
  processes: {
    scenarios: ['analyze-16', 'analyze-16-processes', 'health', 'health-processes', 'event-probs-nats', 'event-probs-nats-processes'],
    baselines: ['bare-uws', 'bare-uws-threads', 'bare-uws-processes'],
  },
};

/** "all", a group, a scenario or a baseline name, "memory", "stream" or a stream mode, or several joined by commas. */
export function select(spec: string): Selection {
  const scenarios = new Set<string>();
  const baselines = new Set<BaselineName>();
  let memory = false;
  const streams = new Set<string>();
  for (const name of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const group = GROUPS[name];
    if (group) {
      group.scenarios.forEach((s) => scenarios.add(s));
      group.baselines.forEach((b) => baselines.add(b));
    } else if (SERVER_SCENARIOS.some((s) => s.name === name)) scenarios.add(name);
    else if ((BASELINE_NAMES as readonly string[]).includes(name)) baselines.add(name as BaselineName);
    else if (name === 'memory') memory = true;
    else if (name === 'stream') STREAM_MODES.forEach((m) => streams.add(m.name));
    else if (STREAM_MODES.some((m) => m.name === name)) streams.add(name);
    else {
      const known = [...Object.keys(GROUPS), ...SERVER_SCENARIOS.map((s) => s.name), ...BASELINE_NAMES, 'memory', 'stream', ...STREAM_MODES.map((m) => m.name)];
      throw new Error(`unknown scenario "${name}"; one of: ${known.join(', ')}`);
    }
  }
  return { scenarios: SERVER_SCENARIOS.filter((s) => scenarios.has(s.name)), baselines, memory, streams: STREAM_MODES.filter((m) => streams.has(m.name)) };
}
