/**
 * Prometheus metrics, all in one registry owned by the main thread. Worker threads cannot touch
 * it; they report figures in their messages and the main-thread client records them here.
 *
 * Under BACKEND_PROCESSES every server process's registry is merged into one answer
 * (src/process-metrics.ts): each metric's `aggregator` says how. Counters and histograms sum (the
 * default); so do the gauges, each this process's share of a total (queued windows, backlog, open
 * streams, processes serving a model).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

  return {
    registry,
    http: {
      requests: new Counter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'] as const, registers }),
      duration: new Histogram({ name: 'http_request_duration_seconds', help: 'Time from request to response, by route', labelNames: ['route'] as const, buckets: latencyBuckets, registers }),
    },
    inference: {
      requests: new Counter({ name: 'inference_requests_total', help: 'Windows submitted for inference (analyze requests and stream analyses), by model', labelNames: ['model'] as const, registers }),
      batchSize: new Histogram({ name: 'inference_batch_size', help: 'Windows per session.run, by model', labelNames: ['model'] as const, buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers }),
      queueDepth: new Gauge({ name: 'inference_queue_depth', help: 'Windows waiting for a worker, by model', labelNames: ['model'] as const, aggregator: 'sum', registers }),
      queueWait: new Histogram({ name: 'inference_queue_wait_seconds', help: 'Time a window waits before its batch is sent to a worker, by model', labelNames: ['model'] as const, buckets: latencyBuckets, registers }),
      runTime: new Histogram({ name: 'inference_run_seconds', help: 'session.run time per batch, measured in the worker, by model', labelNames: ['model'] as const, buckets: latencyBuckets, registers }),
      rejected: new Counter({ name: 'inference_rejected_total', help: 'Windows refused because the queue was full', registers }),
      failures: new Counter({ name: 'inference_failures_total', help: 'Batches that failed (error or worker crash)', labelNames: ['reason'] as const, registers }),
      decoded: new Counter({ name: 'analyze_bodies_decoded_total', help: 'Analyze bodies by decoder: fast (straight from the bytes) or general (JSON.parse + schema)', labelNames: ['decoder'] as const, registers }),
    },
    models: {
      info: new Gauge({ name: 'model_info', help: 'The models served, by (model, version): the server processes serving it (1 in one process)', labelNames: ['model', 'version'] as const, aggregator: 'sum', registers }),
      reloads: new Counter({ name: 'model_reloads_total', help: 'Model set reloads by outcome: ok, or failed (the previous set kept serving)', labelNames: ['outcome'] as const, registers }),
    },
    events: {
      written: new Counter({ name: 'event_log_lines_written_total', help: 'Event records written to the JSONL log', registers }),
      writeBatch: new Histogram({ name: 'event_log_write_batch_lines', help: 'Lines per group-commit write', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024], registers }),
      lag: new Histogram({ name: 'event_log_write_lag_seconds', help: 'Time from append to written (and fsynced, per policy)', buckets: latencyBuckets, registers }),
      errors: new Counter({ name: 'event_log_write_errors_total', help: 'Failed writes to the event log', registers }),
      backlog: new Gauge({ name: 'event_log_backlog', help: 'Events waiting to be written', aggregator: 'sum', registers }),
    },
    kakao: {
      sends: new Counter({ name: 'kakao_memo_sends_total', help: 'Kakao memo attempts by outcome', labelNames: ['outcome'] as const, registers }),
      undelivered: new Counter({ name: 'kakao_alerts_undelivered_total', help: 'END alerts that were not delivered, by reason', labelNames: ['reason'] as const, registers }),
      refreshes: new Counter({ name: 'kakao_token_refreshes_total', help: 'Kakao token refreshes by outcome', labelNames: ['outcome'] as const, registers }),
    },
    stream: {
      open: new Gauge({ name: 'stream_open', help: 'Open analysis streams', aggregator: 'sum', registers }),
      frames: new Counter({ name: 'stream_frames_total', help: 'Frames received on streams', registers }),
      analyses: new Counter({ name: 'stream_analyses_total', help: 'Stream analyses by outcome: sent, dropped (slow consumer), superseded (a newer window took its turn), or the error code', labelNames: ['outcome'] as const, registers }),
      messageErrors: new Counter({ name: 'stream_message_errors_total', help: 'Stream messages rejected, by reason', labelNames: ['reason'] as const, registers }),
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
