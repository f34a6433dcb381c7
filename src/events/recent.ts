/**
 * The recent events kept in memory: a fixed-size ring of the exact lines written for them, so
 * `/event/recent` answers with the log's own bytes (floats keep their `.0`).
 */
import { parseJsonObject } from '../common/parse-json-object.js';

export interface RefillReport {
  loaded: number;
  /** Lines of the tail that were not a JSON object (skipped). */
  invalid: number;
}

export class RecentEvents {
  private readonly capacity: number;
  private readonly lines: string[] = [];
  /** Index of the oldest entry once the ring is full. */
  private start = 0;

  constructor(capacity: number) {
    this.capacity = Math.max(0, Math.floor(capacity));
  }

  push(line: string): void {
    if (this.capacity === 0) return;
    if (this.lines.length < this.capacity) {
      this.lines.push(line);
      return;
    }
    this.lines[this.start] = line;
    this.start = (this.start + 1) % this.capacity;
  }

  /**
   * The last `limit` records, oldest first, as a JSON array of their lines; limit <= 0 gives [].
   * Only the newest records whose lines fit in `maxChars` are included, so one answer stays bounded.
   */
  lastJson(limit: number, maxChars = Infinity): string {
    const lines = this.lines;
    const wanted = Math.min(Math.floor(limit), lines.length);
    if (!(wanted > 0)) return '[]';
    const out: string[] = [];
    let chars = 2;
    for (let i = 0; i < wanted; i++) {
      const line = lines[(this.start + lines.length - 1 - i) % lines.length]!;
      chars += line.length + 2;
      if (chars > maxChars) break;
      out.push(line);
    }
    return `[${out.reverse().join(', ')}]`;
  }

  /** Loads lines read from the log's tail (oldest first); lines that are not a JSON object are skipped. */
  refill(lines: readonly string[]): RefillReport {
    let loaded = 0;
    let invalid = 0;
    for (const line of lines) {
      if (parseJsonObject(line)) {
        this.push(line);
        loaded += 1;
      } else {
        invalid += 1;
      }
    }
    return { loaded, invalid };
  }
}
