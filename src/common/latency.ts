/**
 * Latency samples in milliseconds: all of them for percentiles (the agent's summary, the
 * benchmarks' load runs), and the most recent few for the live display's median.
 */
const RECENT = 64;

export interface LatencyFigures {
  p50: number | null;
  p99: number | null;
  max: number | null;
}

export class LatencyRecorder {
  private samples = new Float64Array(1024);
  private readonly recent = new Float64Array(RECENT);
  count = 0;
  last: number | null = null;

  add(ms: number): void {
    if (this.count === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.count] = ms;
    this.recent[this.count % RECENT] = ms;
    this.count++;
    this.last = ms;
  }

  /** Median of the last 64 samples, rounded to 0.01 ms. */
  recentMedian(): number | null {
    return rounded(percentile(sorted(this.recent.subarray(0, Math.min(this.count, RECENT))), 0.5));
  }

  /** p50, p99 and max, rounded to 0.01 ms. */
  figures(): LatencyFigures {
    return figuresOf(sorted(this.samples.subarray(0, this.count)));
  }

  /** Nearest-rank percentiles (each q in (0, 1]) of every sample, unrounded, from one sort; null when there are none. */
  percentiles(qs: readonly number[]): (number | null)[] {
    const values = sorted(this.samples.subarray(0, this.count));
    return qs.map((q) => percentile(values, q));
  }

  /** The figures of several recorders taken together. */
  static merged(recorders: readonly LatencyRecorder[]): LatencyFigures {
    const all = new Float64Array(recorders.reduce((n, r) => n + r.count, 0));
    let at = 0;
    for (const r of recorders) {
      all.set(r.samples.subarray(0, r.count), at);
      at += r.count;
    }
    return figuresOf(all.sort());
  }
}

function figuresOf(values: Float64Array): LatencyFigures {
  return { p50: rounded(percentile(values, 0.5)), p99: rounded(percentile(values, 0.99)), max: rounded(percentile(values, 1)) };
}

function sorted(values: Float64Array): Float64Array {
  return Float64Array.from(values).sort();
}

/** Nearest-rank percentile of sorted values. */
function percentile(values: Float64Array, q: number): number | null {
  if (values.length === 0) return null;
  return values[Math.min(values.length - 1, Math.max(0, Math.ceil(q * values.length) - 1))]!;
}

function rounded(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 100) / 100;
}
