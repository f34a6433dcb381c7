/**
 * Baseline (b), the HTTP ceiling: uWebSockets.js answering the benchmarked routes with fixed bodies
 * and no work beyond reading the request body. Whatever the server does above this costs it.
 * A child process of the benchmark: prints {"msg":"listening","port":N} once every listener is up;
 * SIGTERM stops it.
 *
 *   node --import tsx bench/baselines/bare-uws.ts [--port N]                one App on the main thread
 *   node --import tsx bench/baselines/bare-uws.ts --threads N [--port N]    N worker threads, an App each
 *   node --import tsx bench/baselines/bare-uws.ts --processes N [--port N]  N processes, an App each
 *
 * With several, every App listens on the same port with SO_REUSEPORT and the kernel spreads the
 * connections: the two ways one host can use more than one core for HTTP, compared with no other
 * work in the way.
 */
import { fork } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import uWS, { type HttpResponse } from 'uWebSockets.js';

const HEALTH = '{"status":"ok"}';
const ANALYSIS = JSON.stringify({
  is_anomaly: false, normal_score: 0.9812, anomaly_score: 0.0188, events: ['fall', 'lying_still', 'flailing'],
  scores: [0.0188, 0.0021, 0.0007], thresholds: [0.5, 0.5, 0.5],
});
const ACCEPTED = '{"success":true,"event_id":"0123456789abcdef0123456789abcdef"}';
/** On the command line of a process started by --processes. */
const LISTENER_FLAG = '--listener';

const { values: args } = isMainThread
  ? parseArgs({ options: { port: { type: 'string' }, threads: { type: 'string' }, processes: { type: 'string' }, listener: { type: 'boolean' } } })
  : { values: {} as Record<string, never> };

function send(res: HttpResponse, body: string): void {
  res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', 'application/json').end(body));
}

/** Reads the whole body (copied, as uWS frees each chunk after its callback), then answers. */
function afterBody(body: string) {
  return (res: HttpResponse) => {
    const parts: Buffer[] = [];
    let aborted = false;
    res.onAborted(() => (aborted = true));
    res.onData((chunk, isLast) => {
      parts.push(Buffer.from(new Uint8Array(chunk)));
      if (!isLast || aborted) return;
      Buffer.concat(parts); // the server too holds the body as one buffer before parsing it
      send(res, body);
    });
  };
}

/**
 * An App on this thread listening on `port` (a fixed port is shared: uWS sets SO_REUSEPORT on it);
 * resolves with the port and a function that stops listening.
 */
function listen(port: number): Promise<{ port: number; close: () => void }> {
  const app = uWS.App()
    .get('/health', (res) => send(res, HEALTH))
    .post('/behavior/analyze', afterBody(ANALYSIS))
    .post('/event/payload', afterBody(ACCEPTED))
    .any('/*', (res) => {
      res.cork(() => res.writeStatus('404 Not Found').end('{"detail":"Not Found"}'));
    });
  return new Promise((resolve) => {
    app.listen('127.0.0.1', port, (socket) => {
      if (!socket) {
        process.stderr.write(`bare-uws: cannot listen on ${port}\n`);
        process.exit(1);
      }
      resolve({ port: uWS.us_socket_local_port(socket), close: () => uWS.us_listen_socket_close(socket) });
    });
  });
}

/** A free port, bound for a moment and let go: every listener must be given the same fixed one. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Prints the listening line; on SIGTERM runs `stop`, then exits. */
function announce(port: number, stop: () => void | Promise<void>): void {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
  process.once('SIGTERM', () => void Promise.resolve(stop()).then(() => process.exit(0)));
}

/** Starts `count` listeners with `startOne` (each resolves with its stop function) and waits until each listens. */
async function startListeners(count: number, startOne: (port: number) => Promise<() => void | Promise<void>>): Promise<void> {
  const port = args.port ? Number(args.port) : await freePort();
  const stops = await Promise.all(Array.from({ length: count }, () => startOne(port)));
  announce(port, () => Promise.all(stops.map((stop) => stop())).then(() => undefined));
}

if (!isMainThread) {
  const listener = await listen((workerData as { port: number }).port);
  // A thread must close its listen socket before it ends (Node aborts on a loop left with open handles).
  parentPort!.once('message', () => {
    listener.close();
    parentPort!.close();
  });
  parentPort!.postMessage('listening');
} else if (args.listener) {
  process.once('disconnect', () => process.exit(0));
  await listen(Number(args.port));
  process.send!('listening');
} else if (args.threads) {
  // Node 20 does not carry tsx's hooks into a new thread: the thread registers them, then loads this file.
  const entry = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  await startListeners(Number(args.threads), (port) => new Promise((resolve, reject) => {
    const worker = new Worker(entry, { eval: true, workerData: { port } });
    const exited = new Promise<void>((done) => worker.once('exit', () => done()));
    worker.once('message', () => resolve(() => {
      worker.postMessage('close');
      return exited;
    })).once('error', reject);
  }));
} else if (args.processes) {
  const children = new Set<ReturnType<typeof fork>>();
  process.once('exit', () => children.forEach((child) => child.kill('SIGKILL')));
  await startListeners(Number(args.processes), (port) => new Promise((resolve, reject) => {
    const child = fork(process.argv[1]!, [LISTENER_FLAG, '--port', String(port)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    children.add(child);
    child.once('message', () => resolve(() => {})).once('exit', (code) => reject(new Error(`a listener exited with ${code}`)));
  }));
} else {
  const listener = await listen(args.port ? Number(args.port) : 0);
  announce(listener.port, listener.close);
}
