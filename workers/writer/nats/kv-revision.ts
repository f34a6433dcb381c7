/**
 * Compare-and-set on a key-value bucket: every shared state of the replicas (claims, the refresh
 * lock, tokens, cooldowns, Idempotency-Keys) is written only if its key is still at the revision
 * read, and a replica that lost the race reads again.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';

/** The compare-and-set failed: the key changed since the revision given (or exists, for a create). */
export function isWrongRevision(err: unknown): boolean {
  return err instanceof JetStreamApiError
    && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

/** The revision written, or null when the compare-and-set lost the race; other errors reject. */
export async function revisionOrNull(write: Promise<number>): Promise<number | null> {
  try {
    return await write;
  } catch (err) {
    if (isWrongRevision(err)) return null;
    throw err;
  }
}
