/**
 * The cooldown per (session, event) behind KakaoAlerts: when the last alert of a key was accepted.
 * This process's memory for the file store; the NATS store shares one bucket among its replicas
 * (nats/cooldown-bucket.ts), so the ENDs of one camera spread over replicas are held back alike.
 */

/** A cooldown an accepted alert started. */
export interface Cooldown {
  /** Ends it, unless a later alert's cooldown replaced it: the alert was pushed out of a full queue unsent. */
  giveBack(): void;
}

export interface Cooldowns {
  /**
   * Starts the cooldown of `key` for the alert `eventId` at `now`, unless another alert of that key
   * was accepted less than `cooldownMs` before: then null (held back). A shared store answers with
   * a promise, which never rejects.
   */
  start(key: string, now: number, cooldownMs: number, eventId: string): Cooldown | null | Promise<Cooldown | null>;
}

/** Keys kept; the oldest go first (a Map iterates in insertion order). */
const COOLDOWN_KEYS_MAX = 10_000;

/** One process's cooldowns, answered at once (an alert is queued in the turn it arrives); an END is never taken twice here. */
export class MemoryCooldowns implements Cooldowns {
  private readonly lastAccepted = new Map<string, number>();

  start(key: string, now: number, cooldownMs: number): Cooldown | null {
    const last = this.lastAccepted.get(key);
    if (last !== undefined && now - last < cooldownMs) return null;
    this.lastAccepted.delete(key);
    this.lastAccepted.set(key, now);
    if (this.lastAccepted.size > COOLDOWN_KEYS_MAX) this.lastAccepted.delete(this.lastAccepted.keys().next().value!);
    return { giveBack: () => { if (this.lastAccepted.get(key) === now) this.lastAccepted.delete(key); } };
  }
}
