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
 * Leases are judged by the claim's own timestamp against this replica's clock: replicas' clocks
 * are taken to agree within a few seconds (NTP). The bucket's max age (server 2.9 has no per-key
 * TTL) bounds how long claims are kept, and so how late a redelivery is still recognised.
 */
import { createHash } from 'node:crypto';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV, Kvm } from '@nats-io/kv';

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
      try {
        return { kind: 'mine', revision: await this.kv.create(key, this.value('sending')) };
      } catch (err) {
        if (!isWrongRevision(err)) throw err;
      }
      const entry = await this.kv.get(key);
      if (!entry || entry.operation !== 'PUT') continue;
      const held = entry.json<ClaimValue>();
      if (held.state !== 'sending') return { kind: 'final', state: held.state, replica: held.replica };
      const left = held.at + CLAIM_LEASE_MS - Date.now();
      if (left > 0) return { kind: 'held', replica: held.replica, retryInMs: left };
      try {
        return { kind: 'mine', revision: await this.kv.update(key, this.value('sending'), entry.revision) };
      } catch (err) {
        if (!isWrongRevision(err)) throw err;
      }
    }
    return { kind: 'held', replica: 'unknown', retryInMs: 1000 };
  }

  /** Extends this replica's claim; resolves with its new revision, rejects when the claim was taken over. */
  renew(eventId: string, revision: number): Promise<number> {
    return this.kv.update(claimKey(eventId), this.value('sending'), revision);
  }

  /** Marks the memo sent or given up, so a redelivery is acknowledged without sending. */
  async finish(eventId: string, revision: number, state: FinalState): Promise<void> {
    await this.kv.update(claimKey(eventId), this.value(state), revision);
  }

  /** Gives the claim up (this replica is closing): another replica may send at once. */
  async release(eventId: string, revision: number): Promise<void> {
    await this.kv.delete(claimKey(eventId), { previousSeq: revision });
  }

  private value(state: ClaimValue['state']): string {
    return JSON.stringify({ state, replica: this.replicaId, at: Date.now() } satisfies ClaimValue);
  }
}

/** event_ids are 32 hex digits; anything else is hashed into a valid key. */
function claimKey(eventId: string): string {
  return /^[A-Za-z0-9_-]{1,128}$/.test(eventId) ? eventId : `sha256-${createHash('sha256').update(eventId).digest('hex')}`;
}

/** The compare-and-set failed: the key changed since the revision given. */
export function isWrongRevision(err: unknown): boolean {
  return err instanceof JetStreamApiError
    && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}
