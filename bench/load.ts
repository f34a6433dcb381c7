/**
 * One load run with autocannon (in this process, one thread), with latencies kept exactly:
 * autocannon's own histogram has 1 ms resolution, too coarse for /health.
 */
import autocannon, { type Request } from 'autocannon';

export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST';
  path: string;
  /** POST bodies, sent in turn by every connection. */
  bodies?: readonly string[];
  connections: number;
  /** Run for this long… */
  durationSec?: number;
  /** …or until this many responses (every request sent is answered before it ends). */
  amount?: number;
}

export interface LoadResult {
  connections: number;
  seconds: number;
  responses: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** Connection errors and timeouts (autocannon's "errors"). */
  errors: number;
  timeouts: number;
  non2xx: number;
  ok2xx: number;
  statusCodes: Record<string, number>;
  /** CPU of this process (the load generator) over the run, in % of one core. */
  loadGenCpuPct: number;
}

/** A growable array of response times; percentiles by sorting once at the end. */
class Latencies {
  private values = new Float64Array(1 << 16);
  private size = 0;

  add(ms: number): void {
    if (this.size === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.size++] = ms;
  }

  percentiles(): { p50: number; p99: number; p999: number; max: number } {
    const sorted = this.values.slice(0, this.size).sort();
    const at = (q: number) => (this.size ? sorted[Math.min(this.size - 1, Math.ceil(q * this.size) - 1)] : NaN);
    return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: this.size ? sorted[this.size - 1] : NaN };
  }
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const headers = { 'content-type': 'application/json' };
  const requests: Request[] = spec.bodies?.length
    ? spec.bodies.map((body) => ({ method: spec.method, path: spec.path, headers, body }))
    : [{ method: spec.method, path: spec.path }];
  const latencies = new Latencies();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const instance = autocannon({
    url: spec.url,
    connections: spec.connections,
    ...(spec.amount ? { amount: spec.amount } : { duration: spec.durationSec ?? 10 }),
    timeout: 30,
    requests,
  });
  instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => latencies.add(ms));
  const result = await instance;
  const wallSec = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const { p50, p99, p999, max } = latencies.percentiles();
  return {
    connections: spec.connections,
    seconds: result.duration,
    responses: result.requests.total,
    rps: result.requests.total / result.duration,
    p50Ms: p50,
    p99Ms: p99,
    p999Ms: p999,
    maxMs: max,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    ok2xx: result['2xx'],
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count])),
    loadGenCpuPct: (100 * (cpu.user + cpu.system)) / 1e6 / wallSec,
  };
}
