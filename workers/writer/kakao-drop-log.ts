/**
 * The log lines for one reason of dropped alerts that can come in bursts (a full queue, memos gone
 * stale in an outage): the first drop of a burst is logged in full, later ones are only counted
 * and summed up in one line per window while the burst lasts. The metric still counts each drop.
 */
import type { Logger } from 'pino';
import type { Clock } from './kakao-clock.js';

/** At most one summary line per this long, per reason. */
export const DROP_SUMMARY_WINDOW_MS = 10_000;

export class DropLog {
  private readonly reason: string;
  private readonly logger: Logger;
  private readonly clock: Clock;
  /** Drops since the last line. */
  private unlogged = 0;
  /** Set while a burst is open (its window timer is running). */
  private cancelWindow: (() => void) | null = null;

  constructor(reason: string, logger: Logger, clock: Clock) {
    this.reason = reason;
    this.logger = logger;
    this.clock = clock;
  }

  drop(fields: Record<string, unknown>): void {
    if (this.cancelWindow) {
      this.unlogged++;
      return;
    }
    this.logger.warn({ reason: this.reason, ...fields }, 'Kakao alert not delivered; more like it are summed up');
    this.openWindow();
  }

  /** Writes the summary of drops not logged yet and ends the burst (at shutdown). */
  flush(): void {
    this.cancelWindow?.();
    this.cancelWindow = null;
    this.summarize();
  }

  private openWindow(): void {
    this.cancelWindow = this.clock.setTimer(() => {
      this.cancelWindow = null;
      // Drops in this window: sum them up and keep the burst open; none: the burst is over.
      if (this.summarize()) this.openWindow();
    }, DROP_SUMMARY_WINDOW_MS);
  }

  private summarize(): boolean {
    const count = this.unlogged;
    if (count === 0) return false;
    this.unlogged = 0;
    this.logger.warn({ reason: this.reason, count }, 'Kakao alerts not delivered (summary)');
    return true;
  }
}
