/**
 * Where the writer thread stores event records: the JSONL file (embedded default) or a NATS
 * JetStream stream shared by every replica, behind the same few calls.
 */
import type { AlertRequest, EventPage, EventPageQuery } from '../../src/contracts/writer.js';
import { emptyLogTail, type LogTail } from '../../src/common/log-tail.js';

/** The store's last records; a shared store adds each one's position (its stream sequence). */
export type StoreTail = LogTail & { positions?: number[] };

export interface EventSink {
  /**
   * Reads the last `maxLines` records (oldest first), then gets ready for appends. Never throws for
   * an unwritable store: see problem(). A shared store then calls `followed` with the records other
   * replicas store, in the store's order, as they arrive, and whether each asks for a memo.
   */
  start(maxLines: number, followed: (lines: string[], positions: number[], alerted: boolean[]) => void): Promise<StoreTail>;
  /**
   * Stores a batch of complete lines (each ending in "\n") as one unit; rejects with the reason when
   * it cannot. `alerts` are the END memos the batch asks for: a sink whose `sendsAlerts` is true
   * hands them on itself; otherwise the writer sends them once the batch is stored. A shared store
   * resolves with each line's position in it.
   */
  append(batch: string, alerts: readonly AlertRequest[]): Promise<number[] | void>;
  /** True when memos travel through the store (one replica sends each), false when this process sends them. */
  readonly sendsAlerts: boolean;
  /** A page of older records, newest first, from the whole store. */
  page(query: EventPageQuery): Promise<EventPage>;
  /** Lets go of the store and takes it up again (after a log rotation). */
  reopen(): Promise<void>;
  /** Makes everything appended durable and lets go of the store. */
  close(): Promise<void>;
  /** Why appends fail at the moment, or null when they work. */
  problem(): string | null;
}

/** BACKEND_EVENT_LOG_JSONL empty: records are kept in memory only, so every append succeeds. */
export class NullSink implements EventSink {
  readonly sendsAlerts = false;

  async start(): Promise<LogTail> {
    return emptyLogTail();
  }

  async append(): Promise<void> {}

  async page(): Promise<EventPage> {
    return { lines: [], next: null };
  }

  async reopen(): Promise<void> {}

  async close(): Promise<void> {}

  problem(): string | null {
    return null;
  }
}
