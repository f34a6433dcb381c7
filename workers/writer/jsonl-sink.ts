/**
 * The JSONL event log: group-commit appends, one write() per batch, fsync per policy. A failed
 * write is cut back off the file so no torn line stays behind, and the file is opened again
 * later, so the log recovers by itself once the disk or the path is fixed.
 */
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { EventPage, EventPageQuery, EventsConfig } from '../../src/contracts/writer.js';
import { errorMessage } from '../../src/common/errors.js';
import { recordMatches } from '../../src/common/event-filter.js';
import { readLogPage } from '../../src/common/log-page.js';
import { emptyLogTail, readLogTail, type LogTail } from '../../src/common/log-tail.js';
import { storePosition } from '../../src/common/store-cursor.js';
import type { EventSink } from './event-sink.js';

export interface JsonlSinkOptions {
  path: string;
  fsync: EventsConfig['fsync'];
  fsyncIntervalMs: number;
  logger: Logger;
  /** Called when the log becomes unwritable (with the reason) and when it is writable again (null). */
  onHealth(problem: string | null): void;
}

/** How often a broken log is tried again; each append in between fails fast. */
const RETRY_MS = 1000;

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EISDIR: 'the path is a directory',
  ENOTDIR: 'a parent of the path is not a directory',
  EEXIST: 'a parent of the path is not a directory',
  EIO: 'input/output error',
};

export class JsonlSink implements EventSink {
  readonly sendsAlerts = false;
  private readonly options: JsonlSinkOptions;
  private fd: number | null = null;
  private currentProblem: string | null = null;
  private retryAt = 0;
  private opening: Promise<boolean> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private dirty = false;
  private closed = false;

  constructor(options: JsonlSinkOptions) {
    this.options = options;
  }

  async start(maxLines: number): Promise<LogTail> {
    let tail: LogTail | undefined;
    try {
      tail = await readLogTail(this.options.path, maxLines);
    } catch (err) {
      this.options.logger.warn({ err: errorMessage(err) }, 'cannot read the event log tail; recent events start empty');
    }
    // Only a tail that was read may stand for the file; otherwise the open reads it again.
    await this.open(tail);
    if (this.options.fsync === 'interval') {
      this.syncTimer = setInterval(() => this.syncIfDirty(), this.options.fsyncIntervalMs).unref();
    }
    return tail ?? emptyLogTail();
  }

  async append(batch: string): Promise<void> {
    if (this.fd === null && !(await this.retryNow())) throw new Error(this.currentProblem ?? 'event log is closed');
    const fd = this.fd!;
    const bytes = Buffer.from(batch, 'utf8');
    let written = 0;
    try {
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
      if (this.options.fsync === 'batch') fdatasyncSync(fd);
      else this.dirty = true;
    } catch (err) {
      this.fail(err, written);
      throw new Error(this.currentProblem!);
    }
  }

  /**
   * Older records from the file (the watch page's history), read backwards from the cursor: a byte
   * offset as a string. Bounded by the bytes read per call (log-page.ts), not by lines.
   */
  async page(query: EventPageQuery): Promise<EventPage> {
    const before = query.before === null ? null : offsetOf(query.before);
    const page = await readLogPage(this.options.path, { before, limit: Math.max(1, query.limit), accept: (record) => recordMatches(record, query) });
    return { lines: page.lines, next: page.next === null ? null : String(page.next) };
  }

  async reopen(): Promise<void> {
    if (this.closed) return;
    this.release();
    await this.open();
    if (this.fd !== null) this.options.logger.info({ path: this.options.path }, 'event log reopened');
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.release();
  }

  problem(): string | null {
    return this.currentProblem;
  }

  private async retryNow(): Promise<boolean> {
    if (this.closed || Date.now() < this.retryAt) return false;
    return this.open();
  }

  /** Single-flight: an append and the retry timer may both want to open. */
  private open(knownTail?: LogTail): Promise<boolean> {
    this.opening ??= this.doOpen(knownTail).finally(() => { this.opening = null; });
    return this.opening;
  }

  private async doOpen(knownTail?: LogTail): Promise<boolean> {
    let fd: number | null = null;
    try {
      mkdirSync(dirname(this.options.path), { recursive: true });
      // a+ (append, readable) so the last byte can be checked before the first append.
      fd = openSync(this.options.path, 'a+', 0o644);
      await this.endWithNewline(fd, knownTail);
      if (this.closed) {
        // close() ran while this open (from the retry timer) was reading the tail.
        closeQuietly(fd);
        return false;
      }
      this.fd = fd;
      this.setProblem(null);
      return true;
    } catch (err) {
      if (fd !== null) closeQuietly(fd);
      this.setProblem(describe(err));
      this.scheduleRetry();
      return false;
    }
  }

  /** A torn last line (crash mid-write, power loss) is cut off; a complete one missing its newline gets one. */
  private async endWithNewline(fd: number, knownTail?: LogTail): Promise<void> {
    const size = fstatSync(fd).size;
    if (size === 0) return;
    const last = Buffer.alloc(1);
    if (readSync(fd, last, 0, 1, size - 1) !== 1 || last[0] === 0x0a) return;
    const tail = knownTail ?? (await readLogTail(this.options.path, 0));
    if (tail.torn) {
      this.options.logger.warn({ path: this.options.path, bytes: tail.torn.bytes }, 'event log ends with a torn line; cutting it off before appending');
      try {
        ftruncateSync(fd, tail.torn.offset);
        return;
      } catch (err) {
        this.options.logger.error({ err: errorMessage(err) }, 'cannot cut the torn line; ending it with a newline instead');
      }
    }
    writeSync(fd, '\n');
  }

  private fail(err: unknown, written: number): void {
    const fd = this.fd!;
    this.fd = null;
    if (written > 0) {
      try {
        // O_APPEND and a single writer: the batch is the last `written` bytes of the file.
        ftruncateSync(fd, fstatSync(fd).size - written);
      } catch (cutErr) {
        this.options.logger.error({ err: errorMessage(cutErr), bytes: written }, 'cannot remove a partly written batch; it is cut off when the log is opened again');
      }
    }
    closeQuietly(fd);
    this.setProblem(describe(err));
    this.scheduleRetry();
  }

  private syncIfDirty(): void {
    if (!this.dirty || this.fd === null) return;
    this.dirty = false;
    try {
      fdatasyncSync(this.fd);
    } catch (err) {
      this.fail(err, 0);
    }
  }

  private release(): void {
    if (this.fd === null) return;
    if (this.options.fsync !== 'never') this.syncIfDirty();
    if (this.fd !== null) closeQuietly(this.fd);
    this.fd = null;
  }

  private scheduleRetry(): void {
    this.retryAt = Date.now() + RETRY_MS;
    if (this.retryTimer || this.closed) return;
    // Probing on a timer lets /ready recover even when no event arrives.
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.fd === null && !this.closed) void this.open();
    }, RETRY_MS).unref();
  }

  private setProblem(problem: string | null): void {
    if (problem === this.currentProblem) return;
    this.currentProblem = problem;
    this.options.onHealth(problem); // logged once, by the main thread, which also reports it in /ready
  }
}

function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code && REASONS[code]) return `event log is not writable: ${REASONS[code]} (${code})`;
  return `event log is not writable: ${code ?? errorMessage(err)}`;
}

function offsetOf(cursor: string): number {
  const offset = storePosition(cursor);
  if (offset === null) throw new Error(`not a cursor of the event log file: ${JSON.stringify(cursor.slice(0, 40))}`);
  return offset;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already unusable; nothing more to release
  }
}
