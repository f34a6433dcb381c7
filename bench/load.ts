/**
 * One load run with autocannon (in this process, one thread), with latencies kept exactly:
 * autocannon's own histogram has 1 ms resolution, too coarse for /health.
 */
import autocannon, { type Request } from 'autocannon';
import { LatencyRecorder } from '../src/common/latency.js';

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
  /** Response-time percentiles; null when nothing was answered. */
  p50Ms: number | null;
  p99Ms: number | null;
  p999Ms: number | null;
  maxMs: number | null;
  /** Connection errors and timeouts (autocannon's "errors"). */
  errors: number;
  timeouts: number;
  non2xx: number;
  ok2xx: number;
  statusCodes: Record<string, number>;
  /** CPU of this process (the load generator) over the run, in % of one core. */
  loadGenCpuPct: number;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const headers = { 'content-type': 'application/json' };
  const requests: Request[] = spec.bodies?.length
    ? spec.bodies.map((body) => ({ method: spec.method, path: spec.path, headers, body }))
    : [{ method: spec.method, path: spec.path }];
  const latencies = new LatencyRecorder();
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
  const [p50, p99, p999, max] = latencies.percentiles([0.5, 0.99, 0.999, 1]);
  return {
    connections: spec.connections,
    seconds: result.duration,
    responses: result.requests.total,
    rps: result.requests.total / result.duration,
    p50Ms: p50 ?? null,
    p99Ms: p99 ?? null,
    p999Ms: p999 ?? null,
    maxMs: max ?? null,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    ok2xx: result['2xx'],
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count])),
    loadGenCpuPct: (100 * (cpu.user + cpu.system)) / 1e6 / wallSec,
  };
}
