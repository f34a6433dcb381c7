/**
 * Kakao tokens in a KV bucket named after the stream, shared by every replica of the NATS store:
 * the key `tokens` holds them, the key `refresh-lock` says who is refreshing. Every replica watches
 * the bucket and uses the newest access token. Refreshes are taken in turns under the lock (created,
 * or compare-and-set over one whose lease ran out, so a refresher that died blocks nobody for
 * longer), and a refresh is saved with compare-and-set on the revision read in its turn: a rotated
 * refresh token is never lost, nor overwritten by an older one.
 *
 * The bucket keeps tokens without age limit; leases are judged by the lock's timestamp against this
 * replica's clock (clocks are taken to agree within a few seconds).
 */
import type { Logger } from 'pino';
import type { Kvm, KV, KvEntry, KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/transport-node';
import { errorMessage } from '../../../src/common/errors.js';
import type { RefreshTurn, SavedTokens, TokenStore } from '../kakao-token-store.js';
import { revisionOrNull } from './kv-revision.js';

const TOKENS_KEY = 'tokens';
const LOCK_KEY = 'refresh-lock';
/** Compare-and-set rounds before giving up on a bucket that keeps changing under us. */
const CAS_ROUNDS = 5;

export interface TokenBucketOptions {
  kvm: Kvm;
  stream: string;
  /** Bucket replicas, as the stream's. */
  replicas: number;
  replicaId: string;
  /** How long a refresh turn may last before another replica takes the lock (the refresher is taken for dead). */
  leaseMs: number;
  logger: Logger;
}

interface LockValue {
  replica: string;
  /** When the lock was taken (ms since epoch, the taker's clock). */
  at: number;
}

export function tokenBucketName(stream: string): string {
  return `${stream}_kakao_tokens`;
}

export class TokenBucket implements TokenStore {
  readonly source = 'bucket';
  private readonly kv: KV;
  private readonly options: TokenBucketOptions;
  private readonly watcher: QueuedIterator<KvWatchEntry>;
  /** The newest tokens seen, by read or watch (null: none, or deleted). */
  private current: { tokens: SavedTokens; revision: number } | null = null;
  /** The tokens key's newest revision seen: an older entry arriving late is ignored. */
  private seen = 0;
  private listener: ((tokens: SavedTokens) => void) | null = null;
  /** Woken by any change to the bucket (a lock let go, tokens saved). */
  private changeWaiters: Array<() => void> = [];
  private closed = false;

  private constructor(kv: KV, watcher: QueuedIterator<KvWatchEntry>, options: TokenBucketOptions) {
    this.kv = kv;
    this.watcher = watcher;
    this.options = options;
  }

  /** Creates or opens the bucket, reads the tokens and starts following them. */
  static async open(options: TokenBucketOptions): Promise<TokenBucket> {
    const kv = await options.kvm.create(tokenBucketName(options.stream), { history: 1, replicas: options.replicas });
    // Watching before reading: a save between the two is seen twice, never missed.
    const bucket = new TokenBucket(kv, await kv.watch({ include: 'updates' }), options);
    void bucket.watchBucket();
    bucket.take(await kv.get(TOKENS_KEY));
    return bucket;
  }

  saved(): SavedTokens | null {
    return this.current?.tokens ?? null;
  }

  async seed(tokens: SavedTokens): Promise<SavedTokens | null> {
    for (let round = 0; round < CAS_ROUNDS; round++) {
      if (await this.write(tokens, this.current?.revision ?? 0)) return null;
      this.take(await this.kv.get(TOKENS_KEY));
      // Another replica saved the same login's tokens meanwhile (seeded, or already refreshed them).
      if (this.current?.tokens.env_refresh_token_sha256 === tokens.env_refresh_token_sha256) return this.current.tokens;
    }
    throw new Error('the Kakao token bucket kept changing');
  }

  async takeTurn(): Promise<RefreshTurn> {
    const lockRevision = await this.lock();
    try {
      this.take(await this.kv.get(TOKENS_KEY));
    } catch (err) {
      await this.unlock(lockRevision);
      throw err;
    }
    const base = this.current;
    return {
      saved: base?.tokens ?? null,
      save: (tokens, from) => this.save(tokens, from, base?.revision ?? 0),
      release: () => this.unlock(lockRevision),
    };
  }

  follow(listener: (tokens: SavedTokens) => void): void {
    this.listener = listener;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher.stop();
    this.wake();
  }

  /**
   * Saves a refresh made with the refresh token `from`. When the bucket changed since the turn's
   * read: if it still holds `from`, only an access token changed there and this refresh is newer,
   * so it is written over; otherwise another refresh or a new login moved on, and those tokens win.
   */
  private async save(tokens: SavedTokens, from: string, revision: number): Promise<SavedTokens | null> {
    let expected = revision;
    for (let round = 0; round < CAS_ROUNDS; round++) {
      if (await this.write(tokens, expected)) return null;
      this.take(await this.kv.get(TOKENS_KEY));
      if (this.current && this.current.tokens.refresh_token !== from) return this.current.tokens;
      expected = this.current?.revision ?? 0;
    }
    throw new Error('the Kakao token bucket kept changing');
  }

  /** Writes the tokens if the key is still at `revision` (0: absent); false when it is not. */
  private async write(tokens: SavedTokens, revision: number): Promise<boolean> {
    const value = JSON.stringify(tokens);
    const written = await revisionOrNull(revision === 0 ? this.kv.create(TOKENS_KEY, value) : this.kv.update(TOKENS_KEY, value, revision));
    if (written === null) return false;
    if (written > this.seen) {
      this.seen = written;
      this.current = { tokens, revision: written };
    }
    return true;
  }

  /** Takes the refresh lock, waiting while another replica holds it within its lease; resolves with the lock's revision. */
  private async lock(): Promise<number> {
    const { replicaId, leaseMs, logger } = this.options;
    for (;;) {
      if (this.closed) throw new Error('the token bucket is closed');
      const mine = JSON.stringify({ replica: replicaId, at: Date.now() } satisfies LockValue);
      const created = await revisionOrNull(this.kv.create(LOCK_KEY, mine));
      if (created !== null) return created;
      const entry = await this.kv.get(LOCK_KEY);
      if (!entry || entry.operation !== 'PUT') continue;
      const held = parse<LockValue>(entry);
      const left = held ? held.at + leaseMs - Date.now() : 0;
      if (left > 0) {
        await this.changed(left);
        continue;
      }
      const taken = await revisionOrNull(this.kv.update(LOCK_KEY, mine, entry.revision));
      if (taken !== null) {
        logger.warn({ holder: held?.replica, lease_ms: leaseMs }, 'took over the Kakao refresh lock: its holder did not finish within the lease');
        return taken;
      }
    }
  }

  /** Lets go of the lock unless the lease ran out and another replica took it meanwhile. */
  private async unlock(revision: number): Promise<void> {
    await this.kv.delete(LOCK_KEY, { previousSeq: revision }).catch(() => {});
  }

  /** Resolves on the bucket's next change, or after `ms`. */
  private changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms).unref();
      this.changeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    for (const resolve of this.changeWaiters.splice(0)) resolve();
  }

  /** Applies every change to the bucket: newer tokens are handed to the listener. */
  private async watchBucket(): Promise<void> {
    try {
      for await (const entry of this.watcher) {
        if (entry.key === TOKENS_KEY) {
          const before = this.seen;
          this.take(entry);
          if (this.seen > before && this.current?.revision === this.seen) this.listener?.(this.current.tokens);
        }
        this.wake();
      }
    } catch (err) {
      if (!this.closed) this.options.logger.error({ err: errorMessage(err) }, 'stopped following the Kakao token bucket');
    }
  }

  /** Keeps the tokens key's entry when it is newer than the one seen. */
  private take(entry: KvEntry | null): void {
    if (!entry || entry.revision <= this.seen) return;
    this.seen = entry.revision;
    const tokens = entry.operation === 'PUT' ? parse<SavedTokens>(entry) : null;
    this.current = tokens && typeof tokens.refresh_token === 'string' && tokens.refresh_token ? { tokens, revision: entry.revision } : null;
    if (entry.operation === 'PUT' && !this.current) this.options.logger.warn({ revision: entry.revision }, 'the Kakao token bucket holds no valid tokens; ignored');
  }
}

function parse<T>(entry: KvEntry): T | null {
  try {
    return entry.json<T>();
  } catch {
    return null;
  }
}
