/**
 * GET /metrics under BACKEND_PROCESSES: one answer for all the server processes, whichever of them
 * the kernel hands the scrape to (each answering from its own registry, counters would jump between
 * scrapes). The process that takes the scrape asks the supervisor over IPC; the supervisor asks
 * every listening process for its registry as JSON, merges them with prom-client's cluster
 * aggregation (each metric's `aggregator`, set where it is defined: src/metrics.ts) and answers
 * with the text and how many processes are in it. A single process answers from its own registry
 * and never comes here.
 */
import type { ChildProcess } from 'node:child_process';
import { AggregatorRegistry, Gauge, type Registry } from 'prom-client';

/** One process's registry as prom-client's JSON: what the aggregation merges. */
type Figures = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** The IPC messages of a scrape, beside the server processes' 'listening' and 'ready'. */
export type MetricsMessage =
  /** Process → supervisor: a scrape came in. */
  | { type: 'metrics-scrape'; id: number }
  /** Supervisor → each listening process: its figures, please. */
  | { type: 'metrics-ask'; id: number }
  | { type: 'metrics-figures'; id: number; figures: Figures }
  /** Supervisor → the process that took the scrape: the answer. */
  | { type: 'metrics-text'; id: number; text: string };

/** How long the supervisor waits for the processes' figures; the answer holds what arrived by then. */
const GATHER_TIMEOUT_MS = 3000;
/** How long the process that took a scrape waits for the supervisor's answer. */
const SCRAPE_TIMEOUT_MS = GATHER_TIMEOUT_MS + 2000;

interface Gathering {
  figures: Figures[];
  /** The processes asked that have not answered yet. */
  waiting: Set<ChildProcess>;
  done(): void;
}

/** The supervisor's side: answers each scrape with every listening process's figures, merged. */
export class MetricsGatherer {
  private readonly processes: number;
  private readonly listening: () => ChildProcess[];
  private readonly gatherings = new Map<number, Gathering>();
  private nextId = 0;

  /** `processes`: how many there should be; `listening`: those that can answer now. */
  constructor(processes: number, listening: () => ChildProcess[]) {
    this.processes = processes;
    this.listening = listening;
  }

  /** Takes a message from a server process; false when it is not about metrics. */
  handle(from: ChildProcess, message: { type: string }): boolean {
    const metrics = message as MetricsMessage;
    if (metrics.type === 'metrics-scrape') {
      // Figures that cannot be merged (processes of two versions during a deploy, say) answer as a comment line, never a crash.
      this.gather().then(
        (text) => send(from, { type: 'metrics-text', id: metrics.id, text }),
        (err: unknown) => send(from, { type: 'metrics-text', id: metrics.id, text: `# the processes' figures could not be merged: ${(err as Error).message}\n` }),
      );
    } else if (metrics.type === 'metrics-figures') {
      const gathering = this.gatherings.get(metrics.id);
      if (gathering?.waiting.delete(from)) {
        gathering.figures.push(metrics.figures);
        if (gathering.waiting.size === 0) gathering.done();
      }
    } else {
      return false;
    }
    return true;
  }

  /** A process that exited answers nothing: no scrape waits for it. */
  forget(child: ChildProcess): void {
    for (const gathering of this.gatherings.values()) {
      if (gathering.waiting.delete(child) && gathering.waiting.size === 0) gathering.done();
    }
  }

  private async gather(): Promise<string> {
    const id = this.nextId++;
    const figures: Figures[] = [];
    // Only processes that reported 'listening' are asked: their handler is installed by then, so no request is lost.
    const asked = this.listening().filter((child) => send(child, { type: 'metrics-ask', id }));
    await new Promise<void>((resolve) => {
      // A stuck or dying process costs the scrape this long at most, and is counted as missing.
      const timer = setTimeout(resolve, GATHER_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.gatherings.set(id, { figures, waiting: new Set(asked), done });
      if (asked.length === 0) done();
    });
    this.gatherings.delete(id);
    const registry = AggregatorRegistry.aggregate(figures);
    new Gauge({ name: 'backend_processes_scraped', help: 'Server processes whose figures this answer sums', registers: [registry] }).set(figures.length);
    new Gauge({
      name: 'backend_processes_missing',
      help: `Server processes whose figures this answer lacks: starting, restarting, or no answer within ${GATHER_TIMEOUT_MS / 1000} s`,
      registers: [registry],
    }).set(Math.max(0, this.processes - figures.length));
    return registry.metrics();
  }
}

/** Sends unless the channel is closed; false then. */
function send(child: ChildProcess, message: MetricsMessage): boolean {
  if (!child.connected) return false;
  // A channel that closes meanwhile loses the message: the process's exit makes the gathering forget it.
  child.send(message, () => {});
  return true;
}

/**
 * A server process's side: answers the supervisor's requests for `registry`'s figures, and returns
 * what its /metrics answers with — every process's figures, through the supervisor (rejects when
 * the supervisor does not answer).
 */
export function shareMetrics(registry: Registry, toSupervisor: (message: MetricsMessage) => boolean): () => Promise<string> {
  const answers = new Map<number, (text: string) => void>();
  let nextId = 0;
  process.on('message', (message: MetricsMessage) => {
    if (message.type === 'metrics-ask') {
      // A collector that fails sends nothing: the supervisor counts this process as missing.
      registry.getMetricsAsJSON().then((figures) => toSupervisor({ type: 'metrics-figures', id: message.id, figures }), () => {});
    } else if (message.type === 'metrics-text') {
      answers.get(message.id)?.(message.text);
    }
  });
  return () => new Promise<string>((resolve, reject) => {
    const id = nextId++;
    const fail = (reason: string) => {
      answers.delete(id);
      reject(new Error(reason));
    };
    const timer = setTimeout(() => fail(`the supervisor did not answer within ${SCRAPE_TIMEOUT_MS / 1000} s`), SCRAPE_TIMEOUT_MS);
    answers.set(id, (text) => {
      clearTimeout(timer);
      answers.delete(id);
      resolve(text);
    });
    if (!toSupervisor({ type: 'metrics-scrape', id })) {
      clearTimeout(timer);
      fail('the supervisor is gone');
    }
  });
}
