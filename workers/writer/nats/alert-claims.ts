/**
 * Who sends which END memo, in a KV bucket named after the stream: one key per event_id. A replica
 * claims the key before sending (create, or compare-and-set over a claim whose lease ran out),
 * renews the claim while the memo is in its hands, and marks it sent (or dropped) once Kakao has
 * answered; a redelivered alert whose claim is final is not sent again.
 *
 * The one window left: a replica that dies after Kakao delivered the memo and before the mark is
 * written leaves a claim that is only 'sending'. Once its lease runs out another replica takes it
 * over and sends the memo again. A repeated fall memo is the lesser harm; a claim that blocked
 * resending would lose the memos of every replica that dies while Kakao is slow.
 *
 * A final claim says why a memo was dropped, and every replica watches the bucket for them: the
 * outcome of a memo another replica sent reaches this replica's watch page too.
 *
 * Leases are judged by the claim's own timestamp against this replica's clock: replicas' clocks
 * are taken to agree within a few seconds (NTP). The bucket's max age (server 2.9 has no per-key
 * TTL) bounds how long claims are kept, and so how late a redelivery is still recognised.
 */
import { createHash } from 'node:crypto';
import type { KV, KvEntry, Kvm } from '@nats-io/kv';
import type { Logger } from 'pino';
import { errorMessage } from '../../../src/common/errors.js';
import { revisionOrNull } from './kv-revision.js';

/** A claim not renewed for this long belongs to a replica taken for dead. */
export const CLAIM_LEASE_MS = 10_000;
/** Claims are kept a day: a memo is stale long before (KAKAO_ALERT_MAX_AGE_SEC at most a day too). */
const CLAIMS_MAX_AGE_MS = 24 * 60 * 60_000;

export type FinalState = 'sent' | 'dropped';

interface ClaimValue {
  state: 'sending' | FinalState;
  replica: string;
  /** When the claim was taken, renewed or finished (ms since epoch, the writer's clock). */
  at: number;
  /** The END's (the key is a hash of an event_id that is no valid key). */
  event_id: string;
  /** Why a dropped memo was not delivered (a kakao_alerts_undelivered_total reason); null otherwise. */
  reason: string | null;
}

/** A memo settled by another replica. */
export interface SettledClaim {
  eventId: string;
  state: FinalState;
  reason: string | null;
}

export type ClaimOutcome =
  /** This replica holds the claim, at this revision: send the memo. */
  | { kind: 'mine'; revision: number }
  /** The memo was sent (or given up) already: acknowledge without sending. */
  | { kind: 'final'; state: FinalState; replica: string }
  /** Another replica is sending it: ask again in `retryInMs`. */
  | { kind: 'held'; replica: string; retryInMs: number };

function claimsBucketName(stream: string): string {
  return `${stream}_alert_claims`;
}

export class AlertClaims {
  private readonly kv: KV;
  private readonly replicaId: string;

  private constructor(kv: KV, replicaId: string) {
    this.kv = kv;
    this.replicaId = replicaId;
  }

  /** Creates the bucket, or opens it when it exists. */
  static async open(kvm: Kvm, stream: string, replicas: number, replicaId: string): Promise<AlertClaims> {
    const kv = await kvm.create(claimsBucketName(stream), { history: 1, replicas, ttl: CLAIMS_MAX_AGE_MS });
    return new AlertClaims(kv, replicaId);
  }

  async claim(eventId: string): Promise<ClaimOutcome> {
    const key = claimKey(eventId);
    // Contention settles within a few rounds: every loser re-reads a claim that someone holds.
    for (let round = 0; round < 3; round++) {
      const created = await revisionOrNull(this.kv.create(key, this.value('sending', eventId)));
      if (created !== null) return { kind: 'mine', revision: created };
      const entry = await this.kv.get(key);
      if (!entry || entry.operation !== 'PUT') continue;
      // A value that is no claim is taken over like one whose lease ran out.
      const held = parse(entry);
      if (held && held.state !== 'sending') return { kind: 'final', state: held.state, replica: held.replica };
      const left = held ? held.at + CLAIM_LEASE_MS - Date.now() : 0;
      if (held && left > 0) return { kind: 'held', replica: held.replica, retryInMs: left };
      const taken = await revisionOrNull(this.kv.update(key, this.value('sending', eventId), entry.revision));
      if (taken !== null) return { kind: 'mine', revision: taken };
    }
    return { kind: 'held', replica: 'unknown', retryInMs: 1000 };
  }

  /** Extends this replica's claim; resolves with its new revision, rejects when the claim was taken over. */
  renew(eventId: string, revision: number): Promise<number> {
    return this.kv.update(claimKey(eventId), this.value('sending', eventId), revision);
  }

  /** Marks the memo sent or given up (for `reason`), so a redelivery is acknowledged without sending. */
  async finish(eventId: string, revision: number, state: FinalState, reason: string | null): Promise<void> {
    await this.kv.update(claimKey(eventId), this.value(state, eventId, reason), revision);
  }

  /** Gives the claim up (this replica is closing): another replica may send at once. */
  async release(eventId: string, revision: number): Promise<void> {
    await this.kv.delete(claimKey(eventId), { previousSeq: revision });
  }

  /**
   * Calls `listener` with each memo another replica settles from now on; resolves with the
   * watch's stop. Every claim write reaches every replica (a few per END: taken, renewed while
   * Kakao is slow, finished); all but the final ones are skipped on sight.
   */
  async followSettled(listener: (settled: SettledClaim) => void, logger: Logger): Promise<() => void> {
    const watcher = await this.kv.watch({ include: 'updates', ignoreDeletes: true });
    let stopped = false;
    void (async () => {
      try {
        for await (const entry of watcher) {
          const claim = entry.operation === 'PUT' ? parse(entry) : null;
          if (!claim || claim.state === 'sending' || claim.replica === this.replicaId) continue;
          // Claims written before they held the event_id are keyed by it (event_ids are valid keys).
          listener({ eventId: typeof claim.event_id === 'string' ? claim.event_id : entry.key, state: claim.state, reason: claim.reason ?? null });
        }
      } catch (err) {
        if (!stopped) logger.error({ err: errorMessage(err) }, 'stopped following the Kakao alert claims; memos sent elsewhere show as pending here');
      }
    })();
    return () => {
      stopped = true;
      watcher.stop();
    };
  }

  private value(state: ClaimValue['state'], eventId: string, reason: string | null = null): string {
    return JSON.stringify({ state, replica: this.replicaId, at: Date.now(), event_id: eventId, reason } satisfies ClaimValue);
  }
}

function parse(entry: KvEntry): ClaimValue | null {
  try {
    const claim = entry.json<ClaimValue | null>();
    return claim !== null && typeof claim === 'object' && typeof claim.state === 'string' ? claim : null;
  } catch {
    return null;
  }
}

/** event_ids are 32 hex digits; anything else is hashed into a valid key. */
function claimKey(eventId: string): string {
  return /^[A-Za-z0-9_-]{1,128}$/.test(eventId) ? eventId : `sha256-${createHash('sha256').update(eventId).digest('hex')}`;
}
