/**
 * The Idempotency-Keys of event writes on the NATS store, in a KV bucket named after the stream,
 * so a retry that lands on another replica gets the first answer. One entry per key: the request's
 * fingerprint, its state (pending while a replica writes the record, done once stored), the
 * record's event_id, and the holder with its lease.
 *
 * A claim creates the entry (the first), or finds it: another request → reused; done → the answer;
 * pending → waits until it is done, or until the holder's lease runs out and then takes it over by
 * compare-and-set on its revision. A write that failed lets its lease go at once, so its retry
 * writes. A taker writes with the entry's event_id: a record stored by the holder that died, or by
 * a publish that failed for want of an ack, is stored once (the stream's duplicate window).
 *
 * The one window left: a holder that dies after its record is stored and before the entry is
 * marked done leaves it pending; a retry later than the duplicate window stores the record again,
 * with the same event_id.
 *
 * Leases are judged by the holder's clock against this replica's (clocks are taken to agree within
 * a few seconds). The bucket keeps entries for the window (its max age) and at most maxKeys of
 * them, the oldest removed first, as the file store's memory does.
 */
import { createHash } from 'node:crypto';
import { nanos } from '@nats-io/transport-node';
import { DiscardPolicy } from '@nats-io/jetstream';
import type { KV, KvEntry } from '@nats-io/kv';
import type { IdempotencyConfig, KeyClaim } from '../../../src/contracts/writer.js';
import { errorMessage } from '../../../src/common/errors.js';
import { isWrongRevision, revisionOrNull } from './kv-revision.js';
import type { NatsContext, NatsHandles } from './context.js';
import { DUPLICATE_WINDOW_MS } from './stream-setup.js';

/** A pending entry whose holder has not finished within this is taken over; well inside the duplicate window. */
export const KEY_LEASE_MS = DUPLICATE_WINDOW_MS / 3;
/** A waiter reads a pending entry again after this, doubling up to the most. */
const FIRST_PAUSE_MS = 10;
const MOST_PAUSE_MS = 250;

interface KeyEntry {
  fingerprint: string;
  state: 'pending' | 'done';
  event_id: string;
  replica: string;
  /** Pending: when the holder's lease runs out (ms since epoch, the holder's clock); 0 = let go. */
  until: number;
}

export function idempotencyBucketName(stream: string): string {
  return `${stream}_idempotency`;
}

export class IdempotencyBucket {
  private readonly context: NatsContext;
  private readonly settings: IdempotencyConfig;
  private readonly leaseMs: number;
  /** Opened at the first claim: a store that gets no keys has no bucket. */
  private opening: Promise<KV> | null = null;
  private readonly settling = new Set<Promise<void>>();
  private closed = false;

  constructor(context: NatsContext, settings: IdempotencyConfig, leaseMs = KEY_LEASE_MS) {
    this.context = context;
    this.settings = settings;
    this.leaseMs = leaseMs;
  }

  /** Never rejects: a bucket that cannot be asked is 'unavailable', with the reason. */
  async claim(key: string, fingerprint: string, eventId: string): Promise<KeyClaim> {
    try {
      const kv = await this.bucket();
      const entryKey = bucketKey(key);
      let pause = FIRST_PAUSE_MS;
      for (;;) {
        const created = await revisionOrNull(kv.create(entryKey, this.pending(fingerprint, eventId)));
        if (created !== null) return { kind: 'write', eventId, revision: created };
        for (;;) {
          const entry = await kv.get(entryKey);
          if (!entry || entry.operation !== 'PUT') break; // removed meanwhile (age, the cap): create it
          // A value that is no key entry is taken over like one whose lease ran out.
          const held = keyEntry(entry);
          if (held && held.fingerprint !== fingerprint) return { kind: 'reused' };
          if (held?.state === 'done') return { kind: 'answer', eventId: held.event_id };
          const left = held ? held.until - Date.now() : 0;
          if (left <= 0) {
            const takenId = held?.event_id ?? eventId;
            const taken = await revisionOrNull(kv.update(entryKey, this.pending(fingerprint, takenId), entry.revision));
            if (taken !== null) {
              this.context.logger.warn({ key, holder: held?.replica ?? null, event_id: takenId }, 'Idempotency-Key taken over from a holder whose lease ran out');
              return { kind: 'write', eventId: takenId, revision: taken };
            }
            continue;
          }
          this.usableHandles(); // NATS lost, or closing: stop waiting
          await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
          pause = Math.min(pause * 2, MOST_PAUSE_MS);
        }
      }
    } catch (err) {
      return { kind: 'unavailable', reason: errorMessage(err) };
    }
  }

  /**
   * After the write of a key this replica claimed: done, or (not written) pending with its lease
   * over. Compare-and-set on the claim's revision: a key taken over meanwhile is left to its taker.
   */
  settle(key: string, fingerprint: string, revision: number, eventId: string, written: boolean): void {
    const entry: KeyEntry = { fingerprint, state: written ? 'done' : 'pending', event_id: eventId, replica: this.context.replicaId, until: 0 };
    const settled = this.bucket()
      .then((kv) => kv.update(bucketKey(key), JSON.stringify(entry), revision))
      .then(() => {}, (err: unknown) => {
        if (isWrongRevision(err)) return;
        this.context.logger.warn({ key, err: errorMessage(err) }, 'Idempotency-Key not settled: it stays pending until its lease runs out');
      })
      .finally(() => this.settling.delete(settled));
    this.settling.add(settled);
  }

  /** Waits for the settles under way; claims made later are unavailable. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.settling);
  }

  private pending(fingerprint: string, eventId: string): string {
    return JSON.stringify({ fingerprint, state: 'pending', event_id: eventId, replica: this.context.replicaId, until: Date.now() + this.leaseMs } satisfies KeyEntry);
  }

  /** The handles while the store is usable and open; throws why not. */
  private usableHandles(): NatsHandles {
    const handles = this.context.usable() ? this.context.handles : null;
    if (this.closed) throw new Error('the server is shutting down');
    if (!handles) throw new Error(this.context.problem() ?? 'NATS is not connected');
    return handles;
  }

  private async bucket(): Promise<KV> {
    const handles = this.usableHandles();
    if (!this.opening) {
      this.opening = this.open(handles);
      this.opening.catch(() => { this.opening = null; }); // tried again at the next claim
    }
    return this.opening;
  }

  /**
   * Creates or opens the bucket, then sets its limits to the settings: max age the window, and at
   * most maxKeys entries with the oldest removed (a KV bucket would otherwise refuse new keys once
   * full). The last replica to open it sets them.
   */
  private async open(handles: NatsHandles): Promise<KV> {
    const { stream, replicas } = this.context.config;
    const windowMs = this.settings.windowSec * 1000;
    const kv = await handles.kvm.create(idempotencyBucketName(stream), { history: 1, replicas, ttl: windowMs });
    const { config } = (await kv.status()).streamInfo;
    const limits = { max_age: nanos(windowMs), max_msgs: this.settings.maxKeys, discard: DiscardPolicy.Old };
    if (config.max_age !== limits.max_age || config.max_msgs !== limits.max_msgs || config.discard !== limits.discard) {
      await handles.jsm.streams.update(config.name, { ...config, ...limits });
      this.context.logger.info({ bucket: idempotencyBucketName(stream), window_sec: this.settings.windowSec, max_keys: this.settings.maxKeys }, 'Idempotency-Key bucket limits set to the settings');
    }
    return kv;
  }
}

/** Keys are any text up to 255 characters; the bucket's keys are their hashes. */
function bucketKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}

/** The entry's value when it is a key entry (any replica, or anyone, may have written it), else null. */
function keyEntry(entry: KvEntry): KeyEntry | null {
  let value: Partial<KeyEntry> | null;
  try {
    value = entry.json<Partial<KeyEntry> | null>();
  } catch {
    return null;
  }
  return value !== null && typeof value === 'object' && typeof value.fingerprint === 'string' && (value.state === 'pending' || value.state === 'done')
    && typeof value.event_id === 'string' && typeof value.until === 'number' && Number.isFinite(value.until)
    ? value as KeyEntry
    : null;
}
