/**
 * The Kakao cooldowns of the NATS store, shared by every replica: a KV bucket named after the
 * stream, one key per (session, event) holding when its last alert was accepted and which END that
 * was. An alert starts its cooldown by compare-and-set on the key's revision, so of two ENDs of one
 * camera taken by two replicas at once, one is accepted and the other held back, as in one process.
 *
 * The END that started a cooldown passes it again: an alert handed back by a closing replica, or
 * redelivered after one died, is not held back by its own cooldown. Times are judged against this
 * replica's clock (replicas' clocks are taken to agree within a few seconds, as for the claims);
 * the bucket keeps a key a day, the longest cooldown there is. NATS trouble lets the memo go out:
 * a repeated memo is the lesser harm.
 */
import { createHash } from 'node:crypto';
import type { KV, Kvm } from '@nats-io/kv';
import type { Logger } from 'pino';
import { errorMessage } from '../../../src/common/errors.js';
import type { Cooldown, Cooldowns } from '../kakao-cooldowns.js';
import { isWrongRevision, revisionOrNull } from './kv-revision.js';

/** KAKAO_ALERT_COOLDOWN_SEC's bound: a key untouched for longer holds nothing back. */
const COOLDOWNS_MAX_AGE_MS = 24 * 60 * 60_000;
/** Compare-and-set rounds; a key that keeps changing means alerts of that camera keep being accepted. */
const CAS_ROUNDS = 3;

export interface CooldownBucketOptions {
  kvm: Kvm;
  stream: string;
  /** Bucket replicas, as the stream's. */
  replicas: number;
  replicaId: string;
  logger: Logger;
}

interface CooldownValue {
  /** When the alert was accepted (ms since epoch, the accepting replica's clock). */
  at: number;
  event_id: string;
  replica: string;
}

function cooldownBucketName(stream: string): string {
  return `${stream}_alert_cooldowns`;
}

/** Given back when NATS could not be asked: there is no cooldown of this alert's to end. */
const UNRECORDED: Cooldown = { giveBack: () => {} };

export class CooldownBucket implements Cooldowns {
  private readonly kv: KV;
  private readonly options: CooldownBucketOptions;

  private constructor(kv: KV, options: CooldownBucketOptions) {
    this.kv = kv;
    this.options = options;
  }

  /** Creates the bucket, or opens it when it exists. */
  static async open(options: CooldownBucketOptions): Promise<CooldownBucket> {
    const kv = await options.kvm.create(cooldownBucketName(options.stream), { history: 1, replicas: options.replicas, ttl: COOLDOWNS_MAX_AGE_MS });
    return new CooldownBucket(kv, options);
  }

  async start(key: string, now: number, cooldownMs: number, eventId: string): Promise<Cooldown | null> {
    const bucketKey = hashedKey(key);
    try {
      for (let round = 0; round < CAS_ROUNDS; round++) {
        const entry = await this.kv.get(bucketKey);
        const last = entry?.operation === 'PUT' ? parse(entry.string()) : null;
        if (entry && last && now - last.at < cooldownMs) return last.event_id === eventId ? this.cooldown(bucketKey, entry.revision) : null;
        const value = JSON.stringify({ at: now, event_id: eventId, replica: this.options.replicaId } satisfies CooldownValue);
        const revision = await revisionOrNull(entry ? this.kv.update(bucketKey, value, entry.revision) : this.kv.create(bucketKey, value));
        if (revision !== null) return this.cooldown(bucketKey, revision);
      }
      return null;
    } catch (err) {
      this.options.logger.warn({ err: errorMessage(err), event_id: eventId }, 'cannot read the shared Kakao cooldown; the memo goes out');
      return UNRECORDED;
    }
  }

  /** Given back: the key is deleted if it still holds this alert's cooldown. */
  private cooldown(bucketKey: string, revision: number): Cooldown {
    return {
      giveBack: () => {
        this.kv.delete(bucketKey, { previousSeq: revision }).catch((err: unknown) => {
          if (!isWrongRevision(err)) this.options.logger.warn({ err: errorMessage(err) }, 'cannot give a shared Kakao cooldown back');
        });
      },
    };
  }
}

/** Sessions and events may hold any character; a key may not. */
function hashedKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function parse(text: string): CooldownValue | null {
  try {
    const value = JSON.parse(text) as CooldownValue | null;
    return value !== null && typeof value === 'object' && typeof value.at === 'number' ? value : null;
  } catch {
    return null;
  }
}
