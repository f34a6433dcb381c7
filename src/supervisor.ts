/**
 * BACKEND_PROCESSES above 1: this process serves nothing itself. It forks that many server
 * processes on one port (SO_REUSEPORT: the kernel spreads connections between them), each a
 * complete server with its own main thread and inference workers; the shared event store carries
 * what they must agree on. It passes signals on, restarts a process that dies, gathers every
 * process's metrics for a scrape (src/process-metrics.ts), and on SIGTERM/SIGINT exits once every
 * process has shut down in order.
 *
 * Also the server process's side of the link: a process forked by the supervisor reports when it
 * listens and when it is ready, and stops if the supervisor goes away.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Registry } from 'prom-client';
import type { Config } from './config.js';
import type { Logger } from './common/log.js';
import { pickSharedPort, probePort } from './http/listen.js';
import { MetricsGatherer, shareMetrics, type MetricsMessage } from './process-metrics.js';

/** On a server process's command line: started by the supervisor, with an IPC channel to it. */
const SUPERVISED_FLAG = '--supervised';

type ServerReport = { type: 'listening'; port: number } | { type: 'ready' };

/** The first restart of a process that died waits this long; each further one twice as long… */
const RESTART_FIRST_DELAY_MS = 250;
/** …up to this. */
const RESTART_MAX_DELAY_MS = 30_000;
/** A process up this long has proved itself: its next death restarts after the first delay again. */
const RESTART_STABLE_MS = 60_000;
/**
 * A process that has not reported 'listening' this long after it was started is killed (logged):
 * one stuck on its way up would otherwise leave the supervisor waiting without a word, forever.
 * Listening comes before the models load; it takes about a second.
 */
const LISTEN_TIMEOUT_MS = 60_000;

export interface SupervisorLink {
  listening(port: number): void;
  ready(): void;
  /** Calls `stop` once when the supervisor is gone (its end of the channel closed). */
  onGone(stop: () => void): void;
  /** Gives the supervisor `registry`'s figures when it asks; returns what /metrics answers: every process's. */
  shareMetrics(registry: Registry): () => Promise<string>;
}

/** The link to the supervisor when this process is one of its server processes, else null. */
export function supervisorLink(): SupervisorLink | null {
  if (!process.send || !process.argv.includes(SUPERVISED_FLAG)) return null;
  const report = (message: ServerReport | MetricsMessage): boolean => {
    if (!process.connected) return false;
    // A channel that closes meanwhile is an error in the callback, not an uncaught exception: 'disconnect' handles it.
    process.send!(message, undefined, {}, () => {});
    return true;
  };
  return {
    listening: (port) => void report({ type: 'listening', port }),
    ready: () => void report({ type: 'ready' }),
    onGone: (stop) => process.once('disconnect', stop),
    shareMetrics: (registry) => shareMetrics(registry, report),
  };
}

/** One of the N places a server process fills, across its restarts. */
interface Slot {
  index: number;
  child: ChildProcess | null;
  startedAt: number;
  /** Deaths since the process in this slot last proved itself (RESTART_STABLE_MS). */
  failures: number;
  restartTimer: NodeJS.Timeout | null;
  /** Kills the process if it does not report 'listening' in time (LISTEN_TIMEOUT_MS). */
  listenTimer: NodeJS.Timeout | null;
}

/**
 * Runs the server processes until SIGTERM/SIGINT has stopped them all, or one fails to start;
 * resolves with the exit code. Rejects with a one-line reason when the port cannot be listened on.
 */
export async function supervise(config: Readonly<Config>, logger: Logger): Promise<number> {
  const { host } = config.http;
  const count = config.processes;
  const script = process.argv[1]!;
  let port = config.http.port;

  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({ index, child: null, startedAt: 0, failures: 0, restartTimer: null, listenTimer: null }));
  const listening = new Set<number>();
  const ready = new Set<number>();
  let serving = false;
  let stopping = false;
  let exitCode = 0;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));

  const live = () => slots.filter((s) => s.child !== null);
  const metrics = new MetricsGatherer(count, () => slots.filter((s) => s.child && listening.has(s.index)).map((s) => s.child!));
  const finishIfAllExited = () => {
    if (stopping && live().length === 0) finish(exitCode);
  };

  const stopAll = (why: string, signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, processes: live().length }, `${why}: stopping every server process`);
    for (const slot of slots) {
      if (slot.restartTimer) clearTimeout(slot.restartTimer);
      slot.child?.kill(signal);
    }
    // Each process bounds its own shutdown; this is the last resort for one that hangs.
    const forced = setTimeout(() => {
      logger.error({ pids: live().map((s) => s.child!.pid) }, 'server processes took too long to stop; killing them');
      for (const slot of live()) slot.child!.kill('SIGKILL');
    }, config.http.shutdownTimeoutMs + config.kakao.timeoutMs + 10_000);
    forced.unref();
    finishIfAllExited();
  };

  const start = (slot: Slot) => {
    slot.restartTimer = null;
    slot.startedAt = Date.now();
    // Each process reads the same settings (environment and .env), with these on top.
    const env = {
      ...process.env,
      BACKEND_PROCESSES: '1',
      BACKEND_REUSE_PORT: 'true',
      BACKEND_PORT: String(port),
      BACKEND_INFERENCE_WORKERS: String(config.inference.workers),
    };
    const child = fork(script, [SUPERVISED_FLAG], { env, stdio: 'inherit' });
    slot.child = child;
    // A process that cannot be started (or signalled) says so here, then 'exit' (if it ran) restarts or stops.
    child.on('error', (err) => logger.error({ process: slot.index + 1, err: err.message }, 'server process error'));
    // The 'exit' handler below stops everything (before serving) or restarts this process (after).
    slot.listenTimer = setTimeout(() => {
      logger.error({ pid: child.pid, process: slot.index + 1, waitedMs: LISTEN_TIMEOUT_MS }, 'a server process did not start listening in time; killing it');
      child.kill('SIGKILL');
    }, LISTEN_TIMEOUT_MS);
    child.on('message', (message: ServerReport | MetricsMessage) => {
      if (metrics.handle(child, message)) return;
      if (message.type === 'listening') {
        clearTimeout(slot.listenTimer!);
        if (message.port !== port) logger.error({ pid: child.pid, port: message.port, expected: port }, 'bug: a server process listens on another port');
        listening.add(slot.index);
        if (!serving && listening.size === count) logger.info({ host, port, processes: count, workers: config.inference.workers }, 'listening');
      } else if (message.type === 'ready') {
        ready.add(slot.index);
        if (serving) logger.info({ pid: child.pid, process: slot.index + 1 }, 'server process restarted and ready');
        else if (ready.size === count) {
          serving = true;
          logger.info({ processes: count, workers: config.inference.workers }, 'ready: every server process has every model');
        }
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(slot.listenTimer!);
      slot.child = null;
      listening.delete(slot.index);
      ready.delete(slot.index);
      metrics.forget(child);
      if (stopping) {
        if (code !== 0) exitCode = 1;
        return finishIfAllExited();
      }
      if (!serving) {
        // Bad settings or models fail every process alike: the process has said why on stderr.
        logger.error({ pid: child.pid, code, signal }, 'a server process exited before every one was ready');
        exitCode = 1;
        return stopAll('start-up failed', 'SIGTERM');
      }
      if (Date.now() - slot.startedAt >= RESTART_STABLE_MS) slot.failures = 0;
      const delayMs = Math.min(RESTART_MAX_DELAY_MS, RESTART_FIRST_DELAY_MS * 2 ** slot.failures);
      slot.failures++;
      logger.warn({ pid: child.pid, process: slot.index + 1, code, signal, restartInMs: delayMs }, 'server process exited unexpectedly; restarting it');
      slot.restartTimer = setTimeout(() => start(slot), delayMs);
    });
  };

  process.on('SIGTERM', () => stopAll('SIGTERM', 'SIGTERM'));
  process.on('SIGINT', () => stopAll('SIGINT', 'SIGINT'));
  for (const signal of ['SIGHUP', 'SIGUSR2'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      logger.info({ signal, processes: live().length }, `${signal}: passing it to every server process`);
      for (const slot of live()) slot.child!.kill(signal);
    });
  }

  // Port 0 is picked once, here, and given to every process: each must bind the same port.
  port = port === 0 ? await pickSharedPort(host) : await probePort(host, port);
  if (!stopping) {
    logger.info({ port, processes: count, workers: config.inference.workers }, 'starting the server processes');
    for (const slot of slots) start(slot);
  }
  return finished;
}
