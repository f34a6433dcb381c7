/**
 * What is measured: the server scenarios (route, bodies, server settings) and the baselines,
 * and the names a user can pick with --scenario.
 */
import { join } from 'node:path';
import { BUNDLED_MODEL_PATH, PROJECT_ROOT } from '../src/paths.js';
import { analyzeBodies, eventBodies } from './bodies.js';

export const W60_MODEL_PATH = join(PROJECT_ROOT, 'test', 'fixtures', 'random-w60', 'model.onnx');

export interface ServerScenario {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  /** The server's route name in /metrics. */
  route: string;
  modelPath: string;
  /** Event scenarios run to a request count, so every request sent is answered and can be found in the log. */
  countsEvents: boolean;
  bodies(): string[];
}

export const SERVER_SCENARIOS: readonly ServerScenario[] = [
  { name: 'analyze-16', method: 'POST', path: '/behavior/analyze', route: 'behavior_analyze', modelPath: BUNDLED_MODEL_PATH, countsEvents: false, bodies: () => analyzeBodies(16, 32) },
  { name: 'analyze-60', method: 'POST', path: '/behavior/analyze', route: 'behavior_analyze', modelPath: W60_MODEL_PATH, countsEvents: false, bodies: () => analyzeBodies(60, 16) },
  { name: 'event-probs', method: 'POST', path: '/event/payload', route: 'event_payload', modelPath: BUNDLED_MODEL_PATH, countsEvents: true, bodies: () => eventBodies('PROBS', 64) },
  { name: 'event-end', method: 'POST', path: '/event/payload', route: 'event_payload', modelPath: BUNDLED_MODEL_PATH, countsEvents: true, bodies: () => eventBodies('END', 64) },
  { name: 'health', method: 'GET', path: '/health', route: 'health', modelPath: BUNDLED_MODEL_PATH, countsEvents: false, bodies: () => [] },
];

/** The routes the bare uWebSockets.js baseline answers, with the server scenario whose bodies each gets. */
export const BARE_ROUTES: readonly { name: string; scenario: string }[] = [
  { name: 'bare-health', scenario: 'health' },
  { name: 'bare-analyze', scenario: 'analyze-16' },
  { name: 'bare-event', scenario: 'event-probs' },
];

export type BaselineName = 'ceiling' | 'bare-uws' | 'naive';

/** The scenarios whose servers the memory soak loads (not part of "all": it adds a few minutes). */
export const MEMORY_SCENARIOS: readonly string[] = ['analyze-16', 'analyze-60', 'event-probs'];

export interface Selection {
  scenarios: ServerScenario[];
  baselines: Set<BaselineName>;
  memory: boolean;
}

const GROUPS: Record<string, { scenarios: string[]; baselines: BaselineName[] }> = {
  all: { scenarios: SERVER_SCENARIOS.map((s) => s.name), baselines: ['ceiling', 'bare-uws', 'naive'] },
  analyze: { scenarios: ['analyze-16', 'analyze-60'], baselines: ['ceiling'] },
  events: { scenarios: ['event-probs', 'event-end'], baselines: [] },
  health: { scenarios: ['health'], baselines: [] },
  baselines: { scenarios: [], baselines: ['ceiling', 'bare-uws', 'naive'] },
};

/** "all", a group, a scenario or a baseline name, or several joined by commas. */
export function select(spec: string): Selection {
  const scenarios = new Set<string>();
  const baselines = new Set<BaselineName>();
  let memory = false;
  for (const name of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const group = GROUPS[name];
    if (group) {
      group.scenarios.forEach((s) => scenarios.add(s));
      group.baselines.forEach((b) => baselines.add(b));
    } else if (SERVER_SCENARIOS.some((s) => s.name === name)) scenarios.add(name);
    else if (name === 'ceiling' || name === 'bare-uws' || name === 'naive') baselines.add(name);
    else if (name === 'memory') memory = true;
    else {
      const known = [...Object.keys(GROUPS), ...SERVER_SCENARIOS.map((s) => s.name), 'ceiling', 'bare-uws', 'naive', 'memory'];
      throw new Error(`unknown scenario "${name}"; one of: ${known.join(', ')}`);
    }
  }
  return { scenarios: SERVER_SCENARIOS.filter((s) => scenarios.has(s.name)), baselines, memory };
}
