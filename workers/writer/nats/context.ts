/**
 * The writer thread's one NATS connection and what every NATS part of the thread shares through
 * it: the JetStream client and manager, the KV manager, the settings, this replica's id, and
 * whether the store is usable now (connected, with the stream checked against the settings).
 *
 * Connecting never gives up: a NATS that is unreachable at start, or lost later, makes problem()
 * say why and appends fail fast until it answers again. The first connection is retried by this
 * module rather than by the client's waitOnFirstConnect, which would wait without saying why.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { Logger } from 'pino';
import type { NatsStoreConfig } from '../../../src/contracts/writer.js';
import { errorMessage } from '../../../src/common/errors.js';
import { shownServers } from '../../../src/common/nats-url.js';
import { ensureStream, StreamMismatch } from './stream-setup.js';

export interface NatsHandles {
  connection: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kvm: Kvm;
}

export interface NatsContextOptions {
  config: NatsStoreConfig;
  logger: Logger;
  /** Called when the store becomes unusable (with the reason) and when it is usable again (null). */
  onHealth(problem: string | null): void;
}

/** One try of every server; the first connection is tried again this often while it fails. */
const CONNECT_TIMEOUT_MS = 2000;
const CONNECT_RETRY_MS = 1000;
/** After a failed stream check or a store error while connected, the stream is checked again this often. */
const CHECK_RETRY_MS = 2000;
/** A connection whose server stops answering pings is dropped after about PING_MS × MAX_PINGS_OUT. */
const PING_MS = 5000;
const MAX_PINGS_OUT = 3;
/** JetStream API requests (stream info, consumers); publishes have their own timeout. */
const API_TIMEOUT_MS = 5000;

export class NatsContext {
  readonly config: NatsStoreConfig;
  readonly replicaId: string;
  readonly logger: Logger;
  private readonly onHealth: (problem: string | null) => void;
  private readonly where: string;
  private current: NatsHandles | null = null;
  private isUsable = false;
  private currentProblem: string | null;
  private readonly usableListeners = new Set<(handles: NatsHandles) => void>();
  private readonly lostListeners = new Set<(reason: string) => void>();
  private retryTimer: NodeJS.Timeout | null = null;
  /** Between a 'disconnect' and the next 'reconnect' nothing is asked of NATS. */
  private connected = false;
  /** The stream has been created or found to agree with the settings at least once. */
  private streamChecked = false;
  /** How the stream disagrees with the settings, when it did at the last check. */
  private mismatch: StreamMismatch | null = null;
  private checking: Promise<void> | null = null;
  private closed = false;

  constructor(options: NatsContextOptions) {
    this.config = options.config;
    this.replicaId = options.config.replicaId;
    this.logger = options.logger;
    this.onHealth = options.onHealth;
    this.where = `NATS at ${shownServers(options.config.servers)}`;
    this.currentProblem = `${this.where}: not connected yet`;
  }

  /** The connection and clients once connected (whatever the stream's state), else null. */
  get handles(): NatsHandles | null {
    return this.current;
  }

  /** Connected, with the stream checked: appends may be tried. */
  usable(): boolean {
    return this.isUsable;
  }

  /** Why the store cannot be used now, or null. */
  problem(): string | null {
    return this.currentProblem;
  }

  /**
   * Calls `listener` each time the store becomes usable (first connection, every reconnection, a
   * stream fixed), and now if it is; returns its removal.
   */
  onUsable(listener: (handles: NatsHandles) => void): () => void {
    this.usableListeners.add(listener);
    if (this.isUsable && this.current) listener(this.current);
    return () => this.usableListeners.delete(listener);
  }

  /** Calls `listener` with the reason each time the connection is lost; returns its removal. */
  onLost(listener: (reason: string) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /**
   * Tries to connect once. Reachable: the stream is created or checked, and a disagreement with the
   * settings is thrown (StreamMismatch) so the server does not start. Unreachable: problem() says
   * so and connecting goes on in the background.
   */
  async start(): Promise<void> {
    if (!(await this.tryConnect())) return;
    await this.check();
    if (this.mismatch) {
      await this.close();
      throw this.mismatch;
    }
  }

  /**
   * An append failed while connected (JetStream answered with an error or not at all): not ready
   * until the stream answers again.
   */
  storeFailed(reason: string): void {
    if (!this.isUsable) return;
    this.setProblem(`${this.where} did not store records: ${reason}`);
    this.scheduleCheck();
  }

  /** An append succeeded: a store error reported before is over. */
  storeWorked(): void {
    if (this.isUsable && this.currentProblem !== null) this.setProblem(null);
  }

  /** Stops connecting and drains the connection (what was published is flushed first); a lost one is just closed. */
  async close(): Promise<void> {
    this.closed = true;
    this.isUsable = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const connection = this.current?.connection;
    if (!connection || connection.isClosed()) return;
    if (!this.connected) {
      await connection.close();
      return;
    }
    try {
      await connection.drain();
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'NATS connection did not drain; closing it');
      await connection.close();
    }
  }

  private async tryConnect(): Promise<boolean> {
    let connection: NatsConnection;
    try {
      connection = await connect({
        servers: this.config.servers,
        name: this.replicaId,
        timeout: CONNECT_TIMEOUT_MS,
        maxReconnectAttempts: -1,
        reconnectTimeWait: CONNECT_RETRY_MS,
        pingInterval: PING_MS,
        maxPingOut: MAX_PINGS_OUT,
      });
    } catch (err) {
      this.setProblem(`${this.where} is unreachable: ${errorMessage(err)}`);
      this.retryLater(async () => { if (await this.tryConnect()) await this.check(); }, CONNECT_RETRY_MS);
      return false;
    }
    if (this.closed) {
      await connection.close();
      return false;
    }
    const js = jetstream(connection, { timeout: API_TIMEOUT_MS });
    this.current = { connection, js, jsm: await jetstreamManager(connection, { timeout: API_TIMEOUT_MS, checkAPI: false }), kvm: new Kvm(js) };
    this.connected = true;
    this.logger.info({ server: connection.getServer(), stream: this.config.stream }, 'connected to NATS');
    void this.watchStatus(connection);
    return true;
  }

  private async watchStatus(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (this.closed) return;
      switch (status.type) {
        case 'disconnect': {
          this.connected = false;
          this.isUsable = false;
          const reason = `${this.where}: lost the connection to ${status.server}; reconnecting`;
          this.setProblem(reason);
          for (const listener of this.lostListeners) listener(reason);
          break;
        }
        case 'reconnect':
          this.connected = true;
          this.logger.info({ server: status.server }, 'reconnected to NATS');
          // A stream checked before is used at once (appends wait out an election rather than being
          // refused); it is checked again beside them, as NATS may have lost or changed it meanwhile.
          if (this.streamChecked && !this.mismatch) this.becomeUsable();
          void this.check();
          break;
        case 'error':
          this.logger.warn({ err: errorMessage(status.error) }, 'NATS reported an error');
          break;
        default:
          break;
      }
    }
  }

  /** Creates or checks the stream. Single-flight: a reconnection and the retry timer may both want to. */
  private check(): Promise<void> {
    this.checking ??= this.checkStream().finally(() => { this.checking = null; });
    return this.checking;
  }

  private async checkStream(): Promise<void> {
    try {
      await ensureStream(this.current!.jsm, this.config, this.logger);
    } catch (err) {
      if (err instanceof StreamMismatch) {
        // At start this stops the server (start() throws it); later it keeps this replica not ready.
        this.mismatch = err;
        this.isUsable = false;
        this.setProblem(err.message);
      } else if (!this.isUsable) {
        this.setProblem(`${this.where}: JetStream is not usable: ${errorMessage(err)}`);
      } else {
        this.logger.warn({ err: errorMessage(err) }, 'cannot check the NATS stream; appends go on');
      }
      this.scheduleCheck();
      return;
    }
    this.mismatch = null;
    this.streamChecked = true;
    this.becomeUsable();
  }

  private becomeUsable(): void {
    const handles = this.current;
    if (this.closed || !handles || handles.connection.isClosed()) return;
    const was = this.isUsable;
    this.isUsable = true;
    this.setProblem(null);
    if (!was) for (const listener of this.usableListeners) listener(handles);
  }

  private scheduleCheck(): void {
    this.retryLater(async () => {
      // Disconnected: the reconnection checks again.
      if (this.connected) await this.check();
    }, CHECK_RETRY_MS);
  }

  private retryLater(attempt: () => Promise<unknown>, ms: number): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed) void attempt();
    }, ms).unref();
  }

  private setProblem(problem: string | null): void {
    if (problem === this.currentProblem) return;
    this.currentProblem = problem;
    this.onHealth(problem); // logged once, by the main thread, which also reports it in /ready
  }
}
