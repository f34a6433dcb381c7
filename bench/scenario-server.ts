/**
 * The server a scenario measures, as that scenario needs it: one process or several on the port,
 * the JSONL log or a NATS stream of its own (deleted when the server stops), and what
 * measureTarget needs to read its figures and check its stored events.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { TargetLoad } from './measure.js';
import type { ServerScenario } from './scenarios.js';
import { startBuiltServer, type ServerProcess } from './server-process.js';
import { deleteStream, fileEvents, natsEvents, type StoredEvents } from './stored-events.js';

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

export interface ScenarioServer {
  server: ServerProcess;
  /** Server processes on the port. */
  processes: number;
  /** For measureTarget: the route to read /metrics figures for (one process only) and the store to check. */
  target: Pick<TargetLoad, 'route' | 'events'>;
  stop(): Promise<void>;
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
    target: { route: processes === 1 ? scenario.route : undefined, events },
    stop: async () => {
      await server.stop();
      await events?.close();
      if (nats) await deleteStream(nats.url, nats.stream);
    },
  };
}
