/**
 * Shared pieces of the event-side tests: configuration slices and a log capture. waitFor and
 * metricValue live in wait.ts and metrics.ts; they are re-exported here for the tests that import them from here.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { EventsConfig, KakaoConfig } from '../../src/contracts/writer.js';
import type { EventLogOptions } from '../../src/events/event-log.js';

/** The event and Kakao slices with the defaults of config.ts, a log in `dir` and Kakao pointed nowhere. */
export function eventOptions(dir: string, overrides: { events?: Partial<EventsConfig>; kakao?: Partial<KakaoConfig> } = {}): EventLogOptions {
  return {
    events: { store: 'file', logPath: `${dir}/events.jsonl`, nats: null, keepRecent: 200, fsync: 'batch', fsyncIntervalMs: 1000, backlogMax: 10_000, maxEventBytes: 16_384, ...overrides.events },
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
      timeZone: 'Asia/Seoul',
      eventPageBase: null,
      ...overrides.kakao,
    },
    idempotency: { windowSec: 86_400, maxKeys: 100_000 },
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

export { waitFor } from './wait.js';
/** The value of a counter (or gauge) with exactly these labels in an in-process registry; 0 when never incremented. */
export { registryMetric as metricValue } from './metrics.js';
