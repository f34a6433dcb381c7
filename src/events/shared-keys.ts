/**
 * The NATS store's Idempotency-Keys as the routes see them: claimed in the bucket every replica
 * shares, through the writer thread, which holds the NATS connection (its
 * workers/writer/nats/idempotency-bucket.ts says how a claim is decided). A repeat of a key still
 * in flight on this replica shares its answer without asking the bucket again.
 */
import type { KeyClaim } from '../contracts/writer.js';
import { AppError, assertNever } from '../common/errors.js';
import type { EventLog } from './event-log.js';
import { keyReused, type EventWriteKeys } from './idempotency.js';
import { newEventId } from './records.js';

export class SharedEventKeys implements EventWriteKeys {
  private readonly store: Pick<EventLog, 'claimKey' | 'settleKey'>;
  private readonly inFlight = new Map<string, { fingerprint: string; answer: Promise<string> }>();

  constructor(store: Pick<EventLog, 'claimKey' | 'settleKey'>) {
    this.store = store;
  }

  run(key: string, fingerprint: string, write: (eventId: string) => Promise<void>): Promise<string> {
    const known = this.inFlight.get(key);
    if (known) return known.fingerprint === fingerprint ? known.answer : Promise.reject(keyReused());
    const answer = this.claimAndWrite(key, fingerprint, write);
    this.inFlight.set(key, { fingerprint, answer });
    const settled = () => { this.inFlight.delete(key); };
    answer.then(settled, settled);
    return answer;
  }

  private async claimAndWrite(key: string, fingerprint: string, write: (eventId: string) => Promise<void>): Promise<string> {
    const claim: KeyClaim = await this.store.claimKey(key, fingerprint, newEventId());
    switch (claim.kind) {
      case 'answer':
        return claim.eventId;
      case 'reused':
        throw keyReused();
      case 'unavailable':
        throw new AppError('event_log_unavailable', `Idempotency-Keys cannot be checked: ${claim.reason}`);
      case 'write':
        break;
      default:
        assertNever(claim, 'key claim');
    }
    try {
      await write(claim.eventId);
    } catch (err) {
      this.store.settleKey(key, fingerprint, claim.revision, claim.eventId, false);
      throw err;
    }
    this.store.settleKey(key, fingerprint, claim.revision, claim.eventId, true);
    return claim.eventId;
  }
}
