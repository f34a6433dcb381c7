/**
 * Helpers for the event-side tests against a running server: many posts at once, the log file's
 * lines, the memo's local-time stamp and a closed port. /metrics values come from metrics.ts
 * (re-exported here for the tests that import them from here).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Runs `work` on every item with at most `concurrency` at a time; results in item order. */
export async function inParallel<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return results;
}

/** Complete lines of the log (a last line without its newline is torn and left out); [] if there is no file. */
export function logLines(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const lines = text.split('\n');
  lines.pop();
  return lines;
}

/** The event_id of every line; throws on a line that is not JSON. */
export function eventIds(lines: readonly string[]): string[] {
  return lines.map((line) => (JSON.parse(line) as { event_id: string }).event_id);
}

/** The memo's 수신시각 for a moment, in ALERT_TIMEZONE's default zone (as the server prints it), the zone named. */
export function localStamp(ms: number, timeZone = 'Asia/Seoul'): string {
  const seoul = new Date(ms + (timeZone === 'Asia/Seoul' ? 9 * 3600_000 : 0));
  const p = (n: number) => String(n).padStart(2, '0');
  return `${seoul.getUTCFullYear()}-${p(seoul.getUTCMonth() + 1)}-${p(seoul.getUTCDate())} / ${p(seoul.getUTCHours())}:${p(seoul.getUTCMinutes())}:${p(seoul.getUTCSeconds())} ${timeZone}`;
}

/** Every stamp a moment in [from, to] can print as. */
export function localStampsBetween(from: number, to: number): string[] {
  const stamps = new Set<string>();
  for (let s = Math.floor(from / 1000); s <= Math.floor(to / 1000); s++) stamps.add(localStamp(s * 1000));
  return [...stamps];
}

/** A loopback port with nothing listening on it (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export { metric, metricSample } from './metrics.js';
