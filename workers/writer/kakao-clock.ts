/**
 * Time for the Kakao classes, passed in so tests can drive retries, back-offs, ages and refresh
 * schedules by moving a fake clock instead of waiting for real seconds.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once after `ms`; the returned function cancels it. */
  setTimer(fn: () => void, ms: number): () => void;
}

/** setTimeout takes at most this; a longer wait would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    // The writer thread is kept alive by its message port; a pending timer must not do that.
    const timer = setTimeout(fn, Math.min(ms, MAX_TIMER_MS)).unref();
    return () => clearTimeout(timer);
  },
};
