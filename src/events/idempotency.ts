/**
 * Idempotency-Key (IETF draft-ietf-httpapi-idempotency-key-header) for the event writes: a
 * request repeated with the same key within the window gets the first answer and writes
 * nothing. A repeat that arrives while the first is still being written waits for it. The
 * same key with a different request is refused (422, as the draft suggests).
 *
 * On the file store keys live in memory, in insertion order: at most `maxKeys`, the oldest
 * forgotten first, each for `windowMs`. A restart forgets them. The NATS store shares them between
 * replicas (shared-keys.ts).
 */
import { createHash } from 'node:crypto';
import type { IdempotencyConfig } from '../contracts/writer.js';
import { AppError } from '../common/errors.js';
import { newEventId } from './records.js';

/** Longest key taken; the draft sets none, this bounds the memory one key can hold. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** Where the Idempotency-Keys of event writes are kept: this process's memory, or the NATS store's bucket. */
export interface EventWriteKeys {
  /**
   * Runs `write` once for `key`, with the event_id its record gets; resolves with that event_id
   * (the first write's, for a repeat with the same fingerprint).
   */
  run(key: string, fingerprint: string, write: (eventId: string) => Promise<void>): Promise<string>;
}

/** The file store's keys: in this process's memory. */
export function memoryEventKeys(config: IdempotencyConfig): EventWriteKeys {
  const keys = new IdempotencyKeys<string>(config.windowSec * 1000, config.maxKeys);
  return {
    run: (key, fingerprint, write) => keys.run(key, fingerprint, async () => {
      const eventId = newEventId();
      await write(eventId);
      return eventId;
    }),
  };
}

/** The 422 for a key used before with another request. */
export function keyReused(): AppError {
  return new AppError('idempotency_key_reused', 'this Idempotency-Key was already used with a different request');
}

interface Entry<T> {
  fingerprint: string;
  expiresAt: number;
  answer: Promise<T>;
  settled: boolean;
}

export class IdempotencyKeys<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * Runs `work` once for `key`; a repeat with the same fingerprint gets the first answer. Work
   * that fails is forgotten (nothing was written), so the client's retry runs it again.
   */
  run(key: string, fingerprint: string, work: () => Promise<T>): Promise<T> {
    this.forgetExpired();
    const known = this.entries.get(key);
    if (known) return known.fingerprint === fingerprint ? known.answer : Promise.reject(keyReused());
    if (this.entries.size >= this.maxKeys) this.entries.delete(this.entries.keys().next().value!);
    const entry: Entry<T> = { fingerprint, expiresAt: this.now() + this.windowMs, answer: work(), settled: false };
    this.entries.set(key, entry);
    entry.answer.then(
      () => (entry.settled = true),
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.answer;
  }

  /** Entries are in insertion order, so expired ones sit at the front; one still in flight stays. */
  private forgetExpired(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now || !entry.settled) return;
      this.entries.delete(key);
    }
  }
}

/** What makes two requests "the same" for a key: the route and its validated body. */
export function requestFingerprint(route: string, body: unknown): string {
  return createHash('sha256').update(route).update('\n').update(JSON.stringify(body)).digest('base64');
}

/**
 * The key of a request: its Idempotency-Key header, the draft's quoted form or bare; null when absent.
 * Throws a 400 for a key over MAX_IDEMPOTENCY_KEY_LENGTH.
 */
export function idempotencyKey(header: string): string | null {
  const key = header.length >= 2 && header.startsWith('"') && header.endsWith('"') ? header.slice(1, -1) : header;
  if (!key) return null;
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new AppError('bad_request', `Idempotency-Key: at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters (got ${key.length})`);
  }
  return key;
}
