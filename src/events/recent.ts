/**
 * The recent events kept in memory: the exact lines stored for them (so `/event/recent` answers
 * with the log's own bytes; floats keep their `.0`), in the store's order. A shared store gives
 * each record its position (the stream sequence): this replica's records arrive when acknowledged
 * and the others' when followed, in any interleaving, and are placed by position, so every replica
 * that has seen the same records lists them identically. Without a position a line goes last.
 */
import { parseJsonObject } from '../common/parse-json-object.js';

export interface RefillReport {
  loaded: number;
  /** Lines of the tail that were not a JSON object (skipped). */
  invalid: number;
}

export class RecentEvents {
  private readonly capacity: number;
  /** Ascending positions; the kept entries are those from `head` on. */
  private positions: number[] = [];
  private lines: string[] = [];
  private head = 0;
  /** The position given to a line that has none: after every other. */
  private lastPosition = 0;

  constructor(capacity: number) {
    this.capacity = Math.max(0, Math.floor(capacity));
  }

  /** Adds a stored line at its position in the store (null: after every line kept). */
  push(line: string, position: number | null = null): void {
    if (this.capacity === 0) return;
    const at = position ?? this.lastPosition + 1;
    this.lastPosition = Math.max(this.lastPosition, at);
    const { positions, lines } = this;
    const full = positions.length - this.head >= this.capacity;
    // Older than everything kept in a full list: it would be the first to go.
    if (full && at < positions[this.head]!) return;
    // Records arrive nearly in order: the place is found from the end in a step or a few.
    let i = positions.length;
    while (i > this.head && positions[i - 1]! > at) i--;
    // One record seen twice (a retried publish the stream stored once) is kept once.
    if (position !== null && i > this.head && positions[i - 1] === at) return;
    if (i === positions.length) {
      positions.push(at);
      lines.push(line);
    } else {
      positions.splice(i, 0, at);
      lines.splice(i, 0, line);
    }
    if (full) this.head++;
    // Drop the forgotten prefix once it dominates, keeping each step amortised O(1).
    if (this.head > 1024 && this.head * 2 > positions.length) {
      this.positions = positions.slice(this.head);
      this.lines = lines.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * The last `limit` records, oldest first, as a JSON array of their lines; limit <= 0 gives [].
   * Only the newest records whose lines fit in `maxChars` are included, so one answer stays bounded.
   */
  lastJson(limit: number, maxChars = Infinity): string {
    const lines = this.lines;
    const wanted = Math.min(Math.floor(limit), lines.length - this.head);
    if (!(wanted > 0)) return '[]';
    const out: string[] = [];
    let chars = 2;
    for (let i = 0; i < wanted; i++) {
      const line = lines[lines.length - 1 - i]!;
      chars += line.length + 2;
      if (chars > maxChars) break;
      out.push(line);
    }
    return `[${out.reverse().join(', ')}]`;
  }

  /**
   * Loads lines read from the store's tail (oldest first, with their positions when the store has
   * them); lines that are not a JSON object are skipped.
   */
  refill(lines: readonly string[], positions?: readonly number[]): RefillReport {
    let loaded = 0;
    let invalid = 0;
    lines.forEach((line, i) => {
      if (parseJsonObject(line)) {
        this.push(line, positions?.[i] ?? null);
        loaded += 1;
      } else {
        invalid += 1;
      }
    });
    return { loaded, invalid };
  }
}
