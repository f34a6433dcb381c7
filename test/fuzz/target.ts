/**
 * The server under fuzz: the real src/main.ts in a child process (real worker threads, the bundled
 * model, a temp event log), so that an input that kills it is reported with that input instead of
 * taking the test process down with it. A dead server is noticed (exit, refused or reset
 * connection, no answer in time), its last output kept, and it is started afresh for the next case.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import WebSocket from 'ws';
import { PROJECT_ROOT } from '../../src/common/paths.js';
import { tempDir, testEnv } from '../support/server.js';

export interface RawRequest {
  method: string;
  /** Path and query, percent-encoded as sent on the request line. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  ms: number;
}

/** The server process is gone (or stopped answering); `reason` says how, `output` is its last words. */
export class ServerDown extends Error {
  constructor(readonly reason: string, readonly output: string) {
    super(`server down: ${reason}${output ? `\n--- last server output ---\n${output}` : ''}`);
    this.name = 'ServerDown';
  }
}

const OUTPUT_KEEP = 256 * 1024;
const REQUEST_TIMEOUT_MS = 15_000;

export interface TargetOptions {
  /** Extra environment for the server (on top of the fuzz defaults). */
  env?: Record<string, string>;
}

export class FuzzTarget {
  url = '';
  port = 0;
  /** Every death seen so far, in order. */
  readonly deaths: { reason: string; output: string }[] = [];
  private proc: ChildProcess | null = null;
  private exited: Promise<string> | null = null;
  private exitReason: string | null = null;
  private output = '';
  private outputTotal = 0;
  private agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  private readonly env: Record<string, string>;
  readonly dir = tempDir();
  starts = 0;

  constructor(options: TargetOptions = {}) {
    this.env = testEnv(this.dir, {
      BACKEND_INFERENCE_WORKERS: '1',
      BACKEND_EVENT_FSYNC: 'never',
      BACKEND_LOG_LEVEL: 'warn',
      ...options.env,
    });
  }

  get alive(): boolean {
    return this.proc !== null && this.exitReason === null;
  }

  private starting: Promise<void> | null = null;

  /** Starts the server (again, if it died) and waits until /ready answers 200. */
  async ensureUp(): Promise<void> {
    if (this.alive && !this.starting) return;
    this.starting ??= this.start().finally(() => (this.starting = null));
    return this.starting;
  }

  private async start(): Promise<void> {
    this.starts++;
    this.output = '';
    this.exitReason = null;
    this.agent.destroy();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    // The port is chosen here (not 0) so that the child needs no log line to tell it.
    const port = await freePort();
    const proc = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(PROJECT_ROOT, 'src/main.ts')], {
      cwd: this.dir,
      env: { PATH: process.env.PATH ?? '', ...this.env, BACKEND_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    const keep = (d: Buffer) => {
      this.outputTotal += d.length;
      this.output += d.toString();
      if (this.output.length > OUTPUT_KEEP * 2) this.output = this.output.slice(-OUTPUT_KEEP);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    this.exited = new Promise((resolve) =>
      proc.on('exit', (code, signal) => {
        this.exitReason = signal ? `killed by ${signal}` : `exited with status ${code}`;
        if (this.proc === proc && !this.stopping) this.deaths.push({ reason: this.exitReason, output: this.lastOutput() });
        resolve(this.exitReason);
      }),
    );
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (this.exitReason) throw new ServerDown(`did not start: ${this.exitReason}`, this.lastOutput());
      try {
        const res = await this.request({ method: 'GET', path: '/ready' }, 2_000);
        if (res.status === 200) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new ServerDown('not ready after 120 s', this.lastOutput());
      await sleep(100);
    }
  }

  private stopping = false;

  async stop(): Promise<void> {
    this.agent.destroy();
    if (!this.alive) return;
    this.stopping = true;
    this.proc!.kill('SIGTERM');
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
    this.stopping = false;
  }

  /** A mark for outputSince(). */
  outputMark(): number {
    return this.outputTotal;
  }

  /** What the server printed since `mark` (as far as it is still kept). */
  outputSince(mark: number): string {
    return this.output.slice(-Math.min(this.output.length, this.outputTotal - mark));
  }

  lastOutput(): string {
    return this.output.slice(-4_000).trim();
  }

  /**
   * One HTTP exchange. A connection error, or no answer within the timeout, becomes ServerDown
   * when the process has died meanwhile (waited for briefly) — else the error itself, which a
   * property treats as "the server dropped the request without an answer".
   */
  async request(req: RawRequest, timeoutMs = REQUEST_TIMEOUT_MS): Promise<RawResponse> {
    if (!this.proc) throw new ServerDown('not started', '');
    if (this.exitReason) throw new ServerDown(this.exitReason, this.lastOutput());
    const started = performance.now();
    try {
      return await new Promise<RawResponse>((resolve, reject) => {
        const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
        const headers: Record<string, string | number> = { ...req.headers };
        if (body) headers['content-length'] = body.length;
        const r = http.request(
          { host: '127.0.0.1', port: this.port, method: req.method, path: req.path, headers, agent: this.agent, timeout: timeoutMs },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const buf = Buffer.concat(chunks);
              resolve({ status: res.statusCode!, headers: res.headers, body: buf, text: buf.toString('utf8'), ms: performance.now() - started });
            });
            res.on('error', reject);
          },
        );
        r.on('timeout', () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        r.on('error', reject);
        r.end(body);
      });
    } catch (err) {
      throw await this.explain(err);
    }
  }

  /** Turns a connection error into ServerDown if the process died around it. */
  async explain(err: unknown): Promise<unknown> {
    if (err instanceof ServerDown) return err;
    const reason = await Promise.race([this.exited!, sleep(1_500).then(() => null)]);
    if (reason) return new ServerDown(`${reason} (the request got: ${(err as Error).message})`, this.lastOutput());
    return err;
  }

  /** Liveness: /health must answer 200 within `withinMs`. */
  async checkHealth(withinMs = 1_000): Promise<void> {
    let res: RawResponse;
    try {
      res = await this.request({ method: 'GET', path: '/health' }, Math.max(withinMs * 5, 5_000));
    } catch (err) {
      if (err instanceof ServerDown) throw err;
      throw new Error(`/health did not answer: ${(err as Error).message}`);
    }
    if (res.status !== 200 || res.text !== '{"status":"ok"}') throw new Error(`/health answered ${res.status} ${res.text.slice(0, 200)}`);
    if (res.ms > withinMs) throw new Error(`/health took ${res.ms.toFixed(0)} ms (limit ${withinMs} ms)`);
  }

  /** A WebSocket on /behavior/stream that records everything it receives. */
  async openStream(): Promise<FuzzSocket> {
    if (this.exitReason) throw new ServerDown(this.exitReason, this.lastOutput());
    const ws = new WebSocket(`ws://127.0.0.1:${this.port}/behavior/stream`, { maxPayload: 64 * 1024 * 1024 });
    const sock = new FuzzSocket(ws);
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
    } catch (err) {
      throw await this.explain(err);
    }
    return sock;
  }
}

/** A stream socket for fuzzing: every message kept (raw and parsed), waits bounded. */
export class FuzzSocket {
  readonly received: { text: string; json: any; binary: boolean }[] = [];
  closed: { code: number; reason: string } | null = null;
  error: Error | null = null;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = String(data);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      this.received.push({ text, json, binary: isBinary });
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake();
    });
    ws.on('error', (err) => {
      this.error = err;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(data: string | Buffer | ArrayBuffer): void {
    this.ws.send(data, { binary: typeof data !== 'string' });
  }

  /** Resolves true once `predicate` holds, false on timeout or when the socket closes first. */
  async until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (predicate()) return true;
      if (this.closed || Date.now() > deadline) return false;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  close(): void {
    if (!this.closed) this.ws.terminate();
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = http.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}
