/**
 * Where the writer thread stores event records. The JSONL file is the embedded default; a shared
 * store (a Redis stream, say) can take its place behind the same few calls.
 */
import { emptyLogTail, type LogTail } from '../../src/common/log-tail.js';

export interface EventSink {
  /** Reads the last `maxLines` records (oldest first), then gets ready for appends. Never throws for an unwritable store: see problem(). */
  start(maxLines: number): Promise<LogTail>;
  /** Stores a batch of complete lines as one unit; rejects with the reason when it cannot, leaving none of the batch behind. */
  append(batch: string): Promise<void>;
  /** Lets go of the store and takes it up again (after a log rotation). */
  reopen(): Promise<void>;
  /** Makes everything appended durable and lets go of the store. */
  close(): Promise<void>;
  /** Why appends fail at the moment, or null when they work. */
  problem(): string | null;
}

/** BACKEND_EVENT_LOG_JSONL empty: records are kept in memory only, so every append succeeds. */
export class NullSink implements EventSink {
  async start(): Promise<LogTail> {
    return emptyLogTail();
  }

  async append(): Promise<void> {}

  async reopen(): Promise<void> {}

  async close(): Promise<void> {}

  problem(): string | null {
    return null;
  }
}
