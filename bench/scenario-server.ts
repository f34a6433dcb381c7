/**
 * The targets a measurement starts: the server as a scenario needs it (one process or several on
 * the port, the JSONL log or a NATS stream of its own, deleted when the server stops) and the bare
 * uWebSockets.js baseline (one thread, N threads or N processes), with what measureTarget needs to
 * read their figures and check stored events.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../src/common/paths.js';
import type { TargetLoad } from './measure.js';
import { BARE_ROUTES, SERVER_SCENARIOS, type ServerScenario } from './scenarios.js';
import { ServerProcess, startBuiltServer } from './server-process.js';
import { removeEventStream } from '../src/common/event-stream.js';
import { fileEvents, natsEvents, type StoredEvents } from './stored-events.js';

export interface ScenarioServerOptions {
  /** Working directory (the event log is written there). */
  cwd: string;
  /** The server processes of a multi-process scenario. */
  processes: number;
  natsUrl: string;
  /** The built entry to start, when not this checkout's. */
  script?: string;
  nodeArgs?: string[];
}

/** A started target: the process, what measureTarget reads of it, and how to stop it. */
export interface RunningTarget {
  server: ServerProcess;
  target: Pick<TargetLoad, 'route' | 'events' | 'nats'>;
  stop(): Promise<void>;
}

/** Something measured afresh each time: how to start it (in a working directory) and the load it gets. */
export interface Contender {
  name: string;
  request: TargetLoad['request'];
  start(cwd: string): Promise<RunningTarget>;
}

export interface ScenarioServer extends RunningTarget {
  /** Server processes on the port. */
  processes: number;
}

export async function startScenarioServer(scenario: ServerScenario, o: ScenarioServerOptions): Promise<ScenarioServer> {
  const processes = scenario.multiProcess ? o.processes : 1;
  const nats = scenario.store === 'nats' ? { url: o.natsUrl, stream: `BENCH_${randomBytes(5).toString('hex').toUpperCase()}` } : undefined;
  const server = await startBuiltServer({ name: scenario.name, modelPath: scenario.modelPath, cwd: o.cwd, script: o.script, nodeArgs: o.nodeArgs, nats, processes });
  let events: StoredEvents | undefined;
  try {
    if (scenario.countsEvents) events = nats ? await natsEvents(nats.url, nats.stream) : fileEvents(join(o.cwd, 'events.jsonl'));
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    server,
    processes,
    // Several processes answer /metrics in turn: two scrapes around a run may come from different ones.
    target: { route: processes === 1 ? scenario.route : undefined, events, nats: nats !== undefined },
    stop: async () => {
      await server.stop();
      await events?.close();
      if (nats) await removeEventStream(nats.url.split(','), nats.stream);
    },
  };
}

/** The bare uWS variants: the flags of bench/baselines/bare-uws.ts for `listeners` threads or processes. */
export const BARE_VARIANTS = {
  '': () => [],
  '-threads': (listeners: number) => ['--threads', String(listeners)],
  '-processes': (listeners: number) => ['--processes', String(listeners)],
} as const satisfies Record<string, (listeners: number) => string[]>;
export type BareVariant = keyof typeof BARE_VARIANTS;

/** The bare uWS baseline on one thread, or on `listeners` threads or processes sharing its port. */
export async function startBareUws(variant: BareVariant, listeners: number): Promise<RunningTarget> {
  const server = await ServerProcess.start({
    name: `bare-uws${variant}`,
    args: ['--import', 'tsx', 'bench/baselines/bare-uws.ts', ...BARE_VARIANTS[variant](listeners)],
    cwd: PROJECT_ROOT,
    readyPath: '/health',
    env: {},
  });
  return { server, target: {}, stop: () => server.stop() };
}

export interface ContenderOptions extends Omit<ScenarioServerOptions, 'cwd'> {
  bodiesOf: (scenario: ServerScenario) => string[];
}

/**
 * A server scenario by name, or a bare uWS route (bare-health, bare-analyze, bare-event) with its
 * variant suffix (-threads, -processes), as its results are named.
 */
export function contender(name: string, o: ContenderOptions): Contender {
  const scenario = SERVER_SCENARIOS.find((s) => s.name === name);
  if (scenario) {
    return {
      name,
      request: { method: scenario.method, path: scenario.path, bodies: o.bodiesOf(scenario) },
      start: (cwd) => startScenarioServer(scenario, { ...o, cwd }),
    };
  }
  for (const route of BARE_ROUTES) {
    const variant = name.slice(route.name.length);
    if (!name.startsWith(route.name) || !(variant in BARE_VARIANTS)) continue;
    const loaded = SERVER_SCENARIOS.find((s) => s.name === route.scenario)!;
    return {
      name,
      request: { method: loaded.method, path: loaded.path, bodies: o.bodiesOf(loaded) },
      start: () => startBareUws(variant as BareVariant, o.processes),
    };
  }
  const bare = BARE_ROUTES.flatMap((r) => Object.keys(BARE_VARIANTS).map((v) => r.name + v));
  throw new Error(`unknown target "${name}"; a server scenario (${SERVER_SCENARIOS.map((s) => s.name).join(', ')}) or ${bare.join(', ')}`);
}
