/** Shared pieces of the event-side tests: configuration slices, a log capture, waiting for a condition, reading a counter. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { EventsConfig, KakaoConfig } from '../../src/config.js';
import type { EventLogOptions } from '../../src/events/event-log.js';
import type { Metrics } from '../../src/metrics.js';

/** The event and Kakao slices with the defaults of config.ts, a log in `dir` and Kakao pointed nowhere. */
export function eventOptions(dir: string, overrides: { events?: Partial<EventsConfig>; kakao?: Partial<KakaoConfig> } = {}): EventLogOptions {
  return {
    events: { logPath: `${dir}/events.jsonl`, keepRecent: 200, fsync: 'batch', fsyncIntervalMs: 1000, backlogMax: 10_000, maxEventBytes: 16_384, ...overrides.events },
    kakao: {
      accessToken: null,
      restApiKey: null,
      refreshToken: null,
      clientSecret: null,
      tokenFile: `${dir}/kakao-token.json`,
      apiBaseUrl: 'http://127.0.0.1:9',
      authBaseUrl: 'http://127.0.0.1:9',
      timeoutMs: 5000,
      cooldownSec: 0,
      maxAgeSec: 600,
      linkUrl: null,
      buttonTitle: '확인하러 가기',
      ...overrides.kakao,
    },
    logLevel: 'silent',
  };
}

/** A logger whose records are kept in `records` for assertions. */
export function captureLogger(): { logger: Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), records };
}

/** Polls until `check` holds; fails after `timeoutMs` (a bound for a stuck test, not a speed requirement). */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The value of a counter (or gauge) with exactly these labels; 0 when never incremented. */
export async function metricValue(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const match = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want) && Object.keys(v.labels).length === Object.keys(labels).length);
  return match?.value ?? 0;
}
