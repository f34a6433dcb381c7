/**
 * The server's own account of a run: two /metrics scrapes, before and after, turned into means
 * over the run (mean batch size = Δsum / Δcount, and so on).
 */

/** Prometheus text → series ("name{labels}") → value. */
export type Scrape = Map<string, number>;

export function parsePrometheus(text: string): Scrape {
  const series: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    series.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return series;
}

/** Sum over every series of `name` whose labels include `labelPart` (e.g. 'route="health"'). */
export function total(scrape: Scrape, name: string, labelPart = ''): number {
  let sum = 0;
  for (const [key, value] of scrape) {
    const brace = key.indexOf('{');
    const keyName = brace < 0 ? key : key.slice(0, brace);
    if (keyName === name && (!labelPart || key.includes(labelPart))) sum += value;
  }
  return sum;
}

export interface ServerFigures {
  /** Mean windows per session.run (analysis scenarios). */
  meanBatch: number | null;
  batches: number;
  meanQueueWaitMs: number | null;
  meanRunMs: number | null;
  rejected: number;
  inferenceFailures: number;
  /** Mean time from request to response inside the server, for the route under load. */
  meanServerLatencyMs: number | null;
  eventLinesWritten: number;
  meanLinesPerWrite: number | null;
  meanWriteLagMs: number | null;
  kakaoUndelivered: number;
}

export function figuresBetween(before: Scrape, after: Scrape, route: string): ServerFigures {
  const d = (name: string, labelPart = '') => total(after, name, labelPart) - total(before, name, labelPart);
  const mean = (name: string, scale = 1, labelPart = '') => {
    const count = d(`${name}_count`, labelPart);
    return count > 0 ? (scale * d(`${name}_sum`, labelPart)) / count : null;
  };
  return {
    meanBatch: mean('inference_batch_size'),
    batches: d('inference_batch_size_count'),
    meanQueueWaitMs: mean('inference_queue_wait_seconds', 1000),
    meanRunMs: mean('inference_run_seconds', 1000),
    rejected: d('inference_rejected_total'),
    inferenceFailures: d('inference_failures_total'),
    meanServerLatencyMs: mean('http_request_duration_seconds', 1000, `route="${route}"`),
    eventLinesWritten: d('event_log_lines_written_total'),
    meanLinesPerWrite: mean('event_log_write_batch_lines'),
    meanWriteLagMs: mean('event_log_write_lag_seconds', 1000),
    kakaoUndelivered: d('kakao_alerts_undelivered_total'),
  };
}
