/**
 * NATS for the tests: the shared server at 127.0.0.1:4222 (a stream of its own per test, deleted
 * after), or servers and clusters of the test's own on free ports with their own store folders,
 * for the tests that stop, kill or restart NATS. Where NATS is missing the tests skip with one
 * line saying how to install it; under CI (CI=true or CI_REQUIRE_NATS=1) that skip is a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import type { Test } from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { removeEventStream } from '../../src/common/event-stream.js';
import { tempDir } from './temp-dir.js';
import { waitFor } from './wait.js';

export const SHARED_NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const NATS_SERVER_BINARIES = [process.env.NATS_SERVER_PATH, '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];
const HOW_TO_INSTALL = 'install it with `apt-get install nats-server` and run `nats-server -js`';

/** CI sets CI=true; CI_REQUIRE_NATS=1 asks the same anywhere. */
export function natsRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI_REQUIRE_NATS === '1' || env.CI === 'true' || env.CI === '1';
}

/** The nats-server binary, or null. */
export function natsServerBinary(): string | null {
  return NATS_SERVER_BINARIES.find((p): p is string => Boolean(p) && existsSync(p!)) ?? null;
}

/**
 * True when the shared NATS (with JetStream) answers; otherwise skips `t` with the reason (or, under
 * CI, fails it) and returns false.
 */
export async function haveSharedNats(t: Test): Promise<boolean> {
  const reason = await sharedNatsProblem();
  if (reason === null) return true;
  return missing(t, `no NATS with JetStream at ${SHARED_NATS_URL} (${reason}): ${HOW_TO_INSTALL}`);
}

/** True when the nats-server binary is installed; otherwise skips (or under CI fails) `t`. */
export function haveNatsServerBinary(t: Test): boolean {
  if (natsServerBinary()) return true;
  return missing(t, `no nats-server binary: ${HOW_TO_INSTALL}`);
}

function missing(t: Test, message: string): false {
  if (natsRequired()) t.fail(`${message} (CI needs it)`);
  else t.plan(0, message);
  return false;
}

async function sharedNatsProblem(): Promise<string | null> {
  try {
    const nc = await connect({ servers: SHARED_NATS_URL, timeout: 2000, reconnect: false });
    try {
      await (await jetstreamManager(nc)).getAccountInfo();
      return null;
    } catch (err) {
      return `JetStream: ${(err as Error).message}`;
    } finally {
      await nc.close();
    }
  } catch (err) {
    return (err as Error).message;
  }
}

/** A stream name no other test uses. */
export function uniqueStream(prefix = 'TEST'): string {
  return `${prefix}_${randomBytes(5).toString('hex').toUpperCase()}`;
}

/**
 * Deletes the stream and everything named after it (its KV buckets are streams named KV_<stream>…)
 * at the end of the test.
 */
export function cleanUpStream(t: Test, stream: string, url = SHARED_NATS_URL): void {
  t.teardown(() => removeEventStream(url.split(','), stream).catch(() => {}));
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port }, () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
  });
}

/** A nats-server process of the test's own; stop() or kill() it, start() it again on the same port and store. */
export interface OwnNats {
  url: string;
  port: number;
  start(): Promise<void>;
  /** SIGTERM, waiting for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, waiting for the exit. */
  kill(): Promise<void>;
  running(): boolean;
}

interface NatsProcessOptions {
  name: string;
  port: number;
  storeDir: string;
  cluster?: { port: number; routes: number[] };
}

function natsProcess(t: Test, options: NatsProcessOptions): OwnNats {
  const binary = natsServerBinary()!;
  let proc: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const args = ['-js', '-a', '127.0.0.1', '-p', String(options.port), '-sd', options.storeDir, '-n', options.name];
  if (options.cluster) {
    args.push('--cluster_name', 'test', '--cluster', `nats://127.0.0.1:${options.cluster.port}`,
      '--routes', options.cluster.routes.map((p) => `nats://127.0.0.1:${p}`).join(','));
  }
  const signal = async (sig: NodeJS.Signals) => {
    if (!proc) return;
    proc.kill(sig);
    await exited;
  };
  const own: OwnNats = {
    url: `nats://127.0.0.1:${options.port}`,
    port: options.port,
    async start() {
      if (proc) return;
      const child = spawn(binary, args, { stdio: 'ignore' });
      proc = child;
      exited = new Promise((resolve) => child.once('exit', () => { proc = null; resolve(); }));
      await waitFor(async () => proc === null || (await accepts(options.port)), `nats-server on port ${options.port}`, 30_000);
      if (!proc) throw new Error(`nats-server on port ${options.port} exited at start`);
    },
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    running: () => proc !== null,
  };
  t.teardown(() => own.kill());
  return own;
}

/** Starts one nats-server with JetStream on a free port (call haveNatsServerBinary first). */
export async function startOwnNats(t: Test): Promise<OwnNats> {
  const server = natsProcess(t, { name: `test-${randomBytes(3).toString('hex')}`, port: await freePort(), storeDir: join(tempDir(), 'nats') });
  await server.start();
  return server;
}

/** A three-node JetStream cluster on loopback; `url` lists every node. Resolves once JetStream has a leader. */
export async function startOwnNatsCluster(t: Test): Promise<{ url: string; nodes: OwnNats[] }> {
  const clientPorts = [await freePort(), await freePort(), await freePort()];
  const routePorts = [await freePort(), await freePort(), await freePort()];
  const dir = tempDir();
  const nodes = clientPorts.map((port, i) => natsProcess(t, {
    name: `node-${i}`,
    port,
    storeDir: join(dir, `node-${i}`),
    cluster: { port: routePorts[i]!, routes: routePorts.filter((_, j) => j !== i) },
  }));
  await Promise.all(nodes.map((n) => n.start()));
  const url = nodes.map((n) => n.url).join(',');
  // JetStream answers only once the cluster's meta leader is elected.
  await waitFor(async () => {
    const nc = await connect({ servers: url, timeout: 2000, reconnect: false }).catch(() => null);
    if (!nc) return false;
    try {
      await (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo();
      return true;
    } catch {
      return false;
    } finally {
      await nc.close();
    }
  }, 'the NATS cluster to elect a JetStream leader', 60_000);
  return { url, nodes };
}
