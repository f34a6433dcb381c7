/**
 * Latency samples in milliseconds: all of them for the summary's percentiles, and the most
 * recent few for the live display's median.
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

  /** Median of the last 64 samples. */
  recentMedian(): number | null {
    return percentile(sorted(this.recent.subarray(0, Math.min(this.count, RECENT))), 0.5);
  }

  figures(): LatencyFigures {
    return figuresOf(sorted(this.samples.subarray(0, this.count)));
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
  return { p50: percentile(values, 0.5), p99: percentile(values, 0.99), max: percentile(values, 1) };
}

function sorted(values: Float64Array): Float64Array {
  return Float64Array.from(values).sort();
}

/** Nearest-rank percentile of sorted values, rounded to 0.01 ms. */
function percentile(values: Float64Array, p: number): number | null {
  if (values.length === 0) return null;
  const rank = Math.min(values.length - 1, Math.max(0, Math.ceil(p * values.length) - 1));
  return Math.round(values[rank]! * 100) / 100;
}
