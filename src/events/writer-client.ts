/**
 * The main thread's side of the writer thread. Appends made in one event-loop turn go over as one
 * message with sequence numbers; acknowledgements come back as "written up to seq" and settle the
 * pending promises in FIFO order. Owns the backlog cap, the log's readiness and the event and
 * Kakao metrics (the thread only reports figures).
 */
import type { Worker } from 'node:worker_threads';
import type { AlertRequest, EventPage, EventPageQuery, KakaoCounter, KakaoDebugCall, KeyClaim, WriterInit, WriterOut } from '../contracts/writer.js';
import { AppError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Metrics } from '../metrics.js';
import { startWorkerThread } from '../worker-thread.js';

export interface WriterStart {
  client: WriterClient;
  /** The log's last lines, oldest first, for the recent list; with their positions in a shared store. */
  tail: string[];
  tailPositions: number[] | null;
  tornBytes: number;
  oversizedLines: number;
}

interface PendingAppend {
  seq: number;
  at: number;
  /** With the line's position in a shared store, else null. */
  resolve(position: number | null): void;
  reject(err: AppError): void;
}

/** What became of one END's Kakao memo. */
export interface AlertOutcome {
  event_id: string;
  delivered: boolean;
  /** Why it was not delivered (no_token, cooldown, stale, …); null when delivered. */
  reason: string | null;
}

/** How long close() waits beyond the Kakao grace for the thread to finish before terminating it. */
const CLOSE_MARGIN_MS = 10_000;

export class WriterClient {
  private readonly worker: Worker;
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly backlogMax: number;
  /** FIFO of appends not yet acknowledged; `head` avoids O(n) shifts. */
  private pending: PendingAppend[] = [];
  private head = 0;
  private nextSeq = 1;
  private batchLines: string[] = [];
  private batchAlerts: AlertRequest[] = [];
  private problem: string | null;
  private closing: Promise<void> | null = null;
  private stopped = false;
  private nextCallId = 1;
  private readonly calls = new Map<number, (body: Record<string, unknown>) => void>();
  private readonly pages = new Map<number, { resolve(page: EventPage): void; reject(err: AppError): void }>();
  private readonly keyClaims = new Map<number, { resolve(claim: KeyClaim): void; reject(err: AppError): void }>();
  private onClosed: (() => void) | null = null;
  /** Told what became of each END's memo (the writer thread reports it by event_id). */
  onAlertOutcome: ((outcome: AlertOutcome) => void) | null = null;
  /** Told of records other replicas stored (shared store only), in the store's order, and which ask for a memo. */
  onFollowed: ((lines: string[], positions: number[], alerted: boolean[]) => void) | null = null;

  private constructor(worker: Worker, problem: string | null, backlogMax: number, logger: Logger, metrics: Metrics) {
    this.worker = worker;
    this.problem = problem;
    this.backlogMax = backlogMax;
    this.logger = logger;
    this.metrics = metrics;
    worker.on('message', (message: WriterOut) => this.onMessage(message));
    worker.on('error', (err) => this.onStopped(`event writer thread failed: ${err.message}`));
    worker.on('exit', (code) => this.onStopped(`event writer thread exited (code ${code})`));
  }

  /** Starts the writer thread and waits until it has read the log's tail and opened the log. */
  static start(init: WriterInit, logger: Logger, metrics: Metrics): Promise<WriterStart> {
    const worker = startWorkerThread('writer', { workerData: init, name: 'event-writer' });
    return new Promise<WriterStart>((resolve, reject) => {
      const fail = (err: Error) => reject(new Error(`event writer thread did not start: ${err.message}`));
      const exited = (code: number) => fail(new Error(`exited with code ${code}`));
      worker.once('error', fail);
      worker.once('exit', exited);
      worker.once('message', (message: WriterOut) => {
        worker.off('error', fail);
        worker.off('exit', exited);
        if (message.type !== 'ready') {
          void worker.terminate();
          fail(new Error(`expected 'ready', got '${message.type}'`));
          return;
        }
        const client = new WriterClient(worker, message.problem, init.events.backlogMax, logger, metrics);
        resolve({ client, tail: message.tail, tailPositions: message.tailPositions, tornBytes: message.tornBytes, oversizedLines: message.oversizedLines });
      });
    });
  }

  /**
   * Resolves once `line` is written, with its position in a shared store (else null); rejects with
   * AppError event_backlog_full | event_log_unavailable | shutting_down.
   */
  append(line: string, alert: AlertRequest | null): Promise<number | null> {
    if (this.closing) return Promise.reject(new AppError('shutting_down', 'the server is shutting down'));
    if (this.stopped) return Promise.reject(new AppError('event_log_unavailable', this.problem ?? 'event writer stopped'));
    const waiting = this.pending.length - this.head;
    if (waiting >= this.backlogMax) {
      return Promise.reject(new AppError('event_backlog_full', `event log backlog is full (${waiting} events waiting); try again shortly`));
    }
    if (this.batchLines.length === 0) setImmediate(() => this.postBatch());
    this.batchLines.push(line);
    if (alert) this.batchAlerts.push(alert);
    const seq = this.nextSeq++;
    const promise = new Promise<number | null>((resolve, reject) => {
      this.pending.push({ seq, at: performance.now(), resolve, reject });
    });
    this.metrics.events.backlog.set(waiting + 1);
    return promise;
  }

  /** Null while the log is writable, else why not (for /ready). */
  readiness(): string | null {
    return this.problem;
  }

  /** Reopens the log file in order with the appends (SIGHUP after logrotate). */
  reopen(): void {
    if (this.closing || this.stopped) return;
    this.postBatch();
    this.worker.postMessage({ type: 'reopen' });
  }

  /** A Kakao debug call answered by the writer thread (it holds the tokens). */
  kakaoCall(call: KakaoDebugCall): Promise<Record<string, unknown>> {
    if (this.stopped) return Promise.resolve({ ok: false, err: 'event writer stopped' });
    const id = this.nextCallId++;
    return new Promise((resolve) => {
      this.calls.set(id, resolve);
      this.worker.postMessage({ type: 'kakao-call', id, call });
    });
  }

  /** A page of older records from the store; rejects with AppError event_log_unavailable when it cannot be read. */
  page(query: EventPageQuery): Promise<EventPage> {
    if (this.stopped || this.closing) return Promise.reject(new AppError('event_log_unavailable', this.problem ?? 'event writer stopped'));
    const id = this.nextCallId++;
    return new Promise((resolve, reject) => {
      this.pages.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'page', id, query });
    });
  }

  /** Claims an Idempotency-Key in the shared store (store 'nats'); rejects like append when the thread cannot be asked. */
  claimKey(key: string, fingerprint: string, eventId: string): Promise<KeyClaim> {
    if (this.closing) return Promise.reject(new AppError('shutting_down', 'the server is shutting down'));
    if (this.stopped) return Promise.reject(new AppError('event_log_unavailable', this.problem ?? 'event writer stopped'));
    const id = this.nextCallId++;
    return new Promise((resolve, reject) => {
      this.keyClaims.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'key-claim', id, key, fingerprint, eventId });
    });
  }

  /** After the write of a claimed key: done when written, else let go so its retry writes. */
  settleKey(key: string, fingerprint: string, revision: number, eventId: string, written: boolean): void {
    if (!this.stopped) this.worker.postMessage({ type: 'key-settle', key, fingerprint, revision, eventId, written });
  }

  /** Stops taking appends, waits for every pending line to be written, gives Kakao up to kakaoGraceMs, stops the thread. */
  close(kakaoGraceMs: number): Promise<void> {
    this.closing ??= this.doClose(kakaoGraceMs);
    return this.closing;
  }

  private async doClose(kakaoGraceMs: number): Promise<void> {
    if (!this.stopped) {
      this.postBatch();
      const closed = new Promise<void>((resolve) => { this.onClosed = resolve; });
      this.worker.postMessage({ type: 'close', kakaoGraceMs });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => { timer = setTimeout(resolve, kakaoGraceMs + CLOSE_MARGIN_MS); });
      await Promise.race([closed, timedOut]);
      clearTimeout(timer);
    }
    this.stopped = true;
    this.failPending(new AppError('event_log_unavailable', 'event writer stopped before writing this event'));
    await this.worker.terminate();
  }

  private postBatch(): void {
    const count = this.batchLines.length;
    if (count === 0) return;
    const lines = `${this.batchLines.join('\n')}\n`;
    const alerts = this.batchAlerts;
    this.batchLines = [];
    this.batchAlerts = [];
    // A stopped thread takes nothing; its pending appends were already rejected.
    if (!this.stopped) this.worker.postMessage({ type: 'append', seq: this.nextSeq - 1, count, lines, alerts });
  }

  private onMessage(message: WriterOut): void {
    switch (message.type) {
      case 'written':
        this.settle(message.seq, null, message.positions);
        this.metrics.events.written.inc(message.count);
        this.metrics.events.writeBatch.observe(message.count);
        return;
      case 'failed':
        this.settle(message.seq, AppError.fromData(message.error));
        this.metrics.events.errors.inc();
        return;
      case 'health':
        this.problem = message.problem;
        if (message.problem) this.logger.error({ problem: message.problem }, 'event log is not writable');
        else this.logger.info('event log is writable again');
        return;
      case 'kakao-news':
        for (const { counter, label } of message.counts) this.count(counter, label);
        for (const outcome of message.outcomes) this.onAlertOutcome?.(outcome);
        return;
      case 'kakao-reply':
        this.calls.get(message.id)?.(message.body);
        this.calls.delete(message.id);
        return;
      case 'page-reply': {
        const waiting = this.pages.get(message.id);
        this.pages.delete(message.id);
        if (message.page) waiting?.resolve(message.page);
        else waiting?.reject(new AppError('event_log_unavailable', message.error ?? 'the event store could not be read'));
        return;
      }
      case 'key-reply':
        this.keyClaims.get(message.id)?.resolve(message.claim);
        this.keyClaims.delete(message.id);
        return;
      case 'followed':
        this.onFollowed?.(message.lines, message.positions, message.alerted);
        return;
      case 'closed':
        this.onClosed?.();
        return;
      case 'ready':
        this.logger.error('bug: the event writer thread said ready twice');
        return;
      default: {
        // Compile-time exhaustiveness; at run time an unknown message is a bug to report, not to crash on.
        const unknown: never = message;
        this.logger.error({ message: unknown }, 'bug: unknown message from the event writer thread');
      }
    }
  }

  private count(counter: KakaoCounter, label: string): void {
    const kakao = this.metrics.kakao;
    if (counter === 'sends') kakao.sends.inc({ outcome: label });
    else if (counter === 'undelivered') kakao.undelivered.inc({ reason: label });
    else kakao.refreshes.inc({ outcome: label });
  }

  /** Settles, in order, every pending append up to `seq`; `positions` are those of the appends written, in order. */
  private settle(seq: number, error: AppError | null, positions: number[] | null = null): void {
    const now = performance.now();
    const pending = this.pending;
    const first = this.head;
    let i = first;
    for (; i < pending.length && pending[i]!.seq <= seq; i++) {
      const entry = pending[i]!;
      if (error) entry.reject(error);
      else {
        this.metrics.events.lag.observe((now - entry.at) / 1000);
        entry.resolve(positions?.[i - first] ?? null);
      }
    }
    this.head = i;
    // Compact once the settled prefix dominates, keeping each step amortised O(1).
    if (this.head > 1024 && this.head * 2 > pending.length) {
      this.pending = pending.slice(this.head);
      this.head = 0;
    }
    this.metrics.events.backlog.set(this.pending.length - this.head);
  }

  private failPending(error: AppError): void {
    const last = this.pending[this.pending.length - 1];
    if (last && this.head < this.pending.length) this.settle(last.seq, error);
    for (const resolve of this.calls.values()) resolve({ ok: false, err: 'event writer stopped' });
    this.calls.clear();
    for (const { reject } of [...this.pages.values(), ...this.keyClaims.values()]) reject(error);
    this.pages.clear();
    this.keyClaims.clear();
  }

  private onStopped(reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    // Stopped while closing: nothing more will come, so the close need not wait out its timer.
    this.onClosed?.();
    if (this.closing) return;
    this.problem = reason;
    this.logger.error({ reason }, 'event writer thread stopped; events are refused');
    this.failPending(new AppError('event_log_unavailable', reason));
  }
}
