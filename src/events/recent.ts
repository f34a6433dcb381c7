/**
 * The recent events kept in memory: a fixed-size ring of records with the exact lines written for
 * them, so `/event/recent` can answer with the log's own bytes (floats keep their `.0`).
 */
import type { EventRecord } from './records.js';

export interface RefillReport {
  loaded: number;
  /** Lines of the tail that were not a JSON object (skipped). */
  invalid: number;
}

export class RecentEvents {
  readonly #capacity: number;
  readonly #records: EventRecord[] = [];
  readonly #lines: string[] = [];
  /** Index of the oldest entry once the ring is full. */
  #start = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(0, Math.floor(capacity));
  }

  push(record: EventRecord, line: string): void {
    if (this.#capacity === 0) return;
    if (this.#records.length < this.#capacity) {
      this.#records.push(record);
      this.#lines.push(line);
      return;
    }
    this.#records[this.#start] = record;
    this.#lines[this.#start] = line;
    this.#start = (this.#start + 1) % this.#capacity;
  }

  /** The last `limit` records, oldest first; limit <= 0 gives []. */
  last(limit: number): EventRecord[] {
    return this.#slice(this.#records, limit);
  }

  /** The last `limit` records as a JSON array built from their stored lines. */
  lastJson(limit: number): string {
    return `[${this.#slice(this.#lines, limit).join(', ')}]`;
  }

  /** Loads lines read from the log's tail (oldest first); lines that are not a JSON object are skipped. */
  refill(lines: readonly string[]): RefillReport {
    let loaded = 0;
    let invalid = 0;
    for (const line of lines) {
      const record = parseRecord(line);
      if (record) {
        this.push(record, line);
        loaded += 1;
      } else {
        invalid += 1;
      }
    }
    return { loaded, invalid };
  }

  #slice<T>(ring: readonly T[], limit: number): T[] {
    const n = Math.min(Math.floor(limit), ring.length);
    if (!(n > 0)) return [];
    const out = new Array<T>(n);
    const first = this.#start + ring.length - n;
    for (let i = 0; i < n; i++) out[i] = ring[(first + i) % ring.length]!;
    return out;
  }
}

function parseRecord(line: string): EventRecord | null {
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as EventRecord) : null;
  } catch {
    return null;
  }
}
