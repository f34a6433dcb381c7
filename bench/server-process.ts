/**
 * A server under test as a child process: the built backend (dist/src/main.js, of this checkout or
 * of a scratch build of another version) or a baseline
 * server. Each prints a JSON line {"msg":"listening","port":N} on stdout; we wait for it, then
 * for the ready path to answer 200. Also scrapes /metrics and stops the process cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { setTimeout as pause } from 'node:timers/promises';
import { PROJECT_ROOT } from '../src/common/paths.js';
import { parsePrometheus, type Scrape } from './server-figures.js';

/** The built server's entry and inference worker under a checkout (this one, or a scratch build of another version). */
export function builtFiles(root: string): { server: string; inferenceWorker: string } {
  return { server: join(root, 'dist', 'src', 'main.js'), inferenceWorker: join(root, 'dist', 'workers', 'inference.worker.js') };
}

export const { server: BUILT_SERVER, inferenceWorker: BUILT_INFERENCE_WORKER } = builtFiles(PROJECT_ROOT);

export interface ProcessSpec {
  name: string;
  /** Node arguments: a script and its arguments (and loader flags when needed). */
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** Polled until 200 after the listening line… */
  readyPath: string;
  /** …or, when set, the log line (its msg) awaited instead: a supervisor's, once every process is ready. */
  readyLine?: string;
  startTimeoutMs?: number;
}

/** Environment passed to every child: enough to run, plus the caller's BACKEND_* tuning variables. */
function childEnv(own: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && (/^(PATH|HOME|LANG|TMPDIR|NODE_OPTIONS|UV_THREADPOOL_SIZE)$/.test(key) || key.startsWith('BACKEND_'))) env[key] = value;
  }
  return { ...env, ...own };
}

export class ServerProcess {
  private readonly logTail: string[] = [];
  private readonly exited: Promise<number | null>;
  private port = 0;
  private readonly stdoutLines: Interface;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => chunk.split('\n').filter(Boolean).forEach((l) => this.remember(l)));
    this.stdoutLines = createInterface({ input: child.stdout! }).on('line', (line) => this.remember(line));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(spec: ProcessSpec): Promise<ServerProcess> {
    const child = spawn(process.execPath, spec.args, { cwd: spec.cwd, env: childEnv(spec.env), stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new ServerProcess(spec.name, child);
    const timeoutMs = spec.startTimeoutMs ?? 60_000;
    try {
      // Both lines are looked for from the start: they may arrive in one chunk of output.
      const listening = server.logLine('listening', timeoutMs);
      const readyLine = spec.readyLine ? server.logLine(spec.readyLine, timeoutMs) : null;
      readyLine?.catch(() => {}); // awaited below, once listening
      server.port = (await listening).port as number;
      if (readyLine) await readyLine;
      else await server.waitReady(spec.readyPath, timeoutMs);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${spec.name}: ${(err as Error).message}\n${server.recentLog()}`);
    }
    return server;
  }

  /** The first JSON log line from now on with this msg (and a port, for "listening"). */
  private logLine(msg: string, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${msg}" line within ${timeoutMs} ms`)), timeoutMs);
      this.exited.then((code) => reject(new Error(`exited with code ${code} before "${msg}"`)));
      const onLine = (line: string) => {
        if (!line.includes(`"${msg}"`)) return;
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry.msg === msg && (msg !== 'listening' || typeof entry.port === 'number')) {
            clearTimeout(timer);
            this.stdoutLines.off('line', onLine);
            resolve(entry);
          }
        } catch {
          // not a JSON log line
        }
      };
      this.stdoutLines.on('line', onLine);
    });
  }

  private remember(line: string): void {
    this.logTail.push(line);
    if (this.logTail.length > 40) this.logTail.shift();
  }

  /** The last lines the process wrote (for error reports). */
  recentLog(): string {
    return this.logTail.join('\n');
  }

  async get(path: string): Promise<{ status: number; text: string }> {
    const res = await fetch(this.url + path);
    return { status: res.status, text: await res.text() };
  }

  async metrics(): Promise<Scrape> {
    const { status, text } = await this.get('/metrics');
    if (status !== 200) throw new Error(`${this.name}: /metrics answered ${status}`);
    return parsePrometheus(text);
  }

  private async waitReady(path: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if ((await this.get(path)).status === 200) return;
      } catch {
        // not accepting yet
      }
      if (Date.now() > deadline) throw new Error(`${path} not 200 within ${timeoutMs} ms`);
      await pause(100);
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Refuses to run against a missing build: the benchmark measures dist/, not src/. */
export function assertBuilt(root = PROJECT_ROOT): void {
  const { server, inferenceWorker } = builtFiles(root);
  for (const file of [server, inferenceWorker]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first (npm run bench does it for you)`);
  }
}

export interface BuiltServerSpec {
  name: string;
  modelPath: string;
  /** Working directory; created, and the event log written there (fresh per directory). */
  cwd: string;
  /** The built entry to start: BUILT_SERVER unless another version's build is measured. */
  script?: string;
  /** Node flags before the script (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** The NATS store instead of the event log: its server(s) and a stream of this server's own. */
  nats?: { url: string; stream: string };
  /** Server processes on the port (BACKEND_PROCESSES); above 1 needs `nats`. */
  processes?: number;
}

/**
 * A built server on 127.0.0.1, port 0, the given model, its event log in its own directory (or
 * the given NATS stream), no Kakao token. Several processes: ready once the supervisor says all are.
 */
export function startBuiltServer(spec: BuiltServerSpec): Promise<ServerProcess> {
  mkdirSync(spec.cwd, { recursive: true });
  const processes = spec.processes ?? 1;
  const store: Record<string, string> = spec.nats
    ? { BACKEND_EVENT_STORE: 'nats', NATS_URL: spec.nats.url, BACKEND_NATS_STREAM: spec.nats.stream }
    : { BACKEND_EVENT_LOG_JSONL: join(spec.cwd, 'events.jsonl') };
  return ServerProcess.start({
    name: spec.name,
    args: [...(spec.nodeArgs ?? []), spec.script ?? BUILT_SERVER],
    cwd: spec.cwd,
    readyPath: '/ready',
    ...(processes > 1 ? { readyLine: 'ready: every server process has every model' } : {}),
    env: {
      BACKEND_HOST: '127.0.0.1', BACKEND_PORT: '0', MODEL_CHECKPOINT_PATH: spec.modelPath,
      KAKAO_ACCESS_TOKEN: '', BACKEND_PROCESSES: String(processes), ...store,
    },
  });
}
