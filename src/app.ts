/**
 * The composition root: builds every part from the configuration, in dependency order, and
 * owns the shutdown order. main.ts adds the process concerns (signals, exit codes).
 */
import type { Config } from './config.js';
import type { Logger } from './shared/log.js';
import { createMetrics } from './metrics.js';
import { EventLog } from './events/event-log.js';
import { readModelMeta } from './shared/model-meta.js';
import { MicroBatcher } from './inference/batcher.js';
import { createAnalyzeBodyParser } from './inference/analyze-body.js';
import { InferencePool } from './inference/pool.js';
import { HttpServer, UWS_IS_NATIVE } from './http/server.js';
import { buildOpenApi } from './http/openapi.js';
import type { RouteSpec } from './http/route.js';
import { behaviorRoutes } from './http/routes/behavior.js';
import { docsRoutes } from './http/routes/docs.js';
import { eventRoutes } from './http/routes/event.js';
import { kakaoDebugRoutes } from './http/routes/kakao-debug.js';
import { healthRoutes, type Readiness } from './http/routes/health.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { corsPolicy } from './http/reply.js';
import { mountStreamSocket } from './http/stream-socket.js';
import { streamDocs } from './http/stream-docs.js';
import { StreamHub } from './streams/stream-hub.js';
import { watchRoutes } from './http/routes/watch.js';
import { CameraBoard } from './watch/camera-board.js';
import { WatchService } from './watch/watch-service.js';

export interface RunningServer {
  port: number;
  /** Resolves when every inference worker has its model; rejects if the model cannot load. */
  ready: Promise<void>;
  /** Reopen the event log file (SIGHUP, after logrotate moved it). */
  reopenEventLog(): void;
  /** Stop accepting, finish in-flight work (bounded), write every pending event, close workers. Idempotent. */
  shutdown(): Promise<void>;
}

/** Replaceable parts, for tests that need a worker which can be made to crash. */
export interface ServerSeams {
  inferenceWorker?: URL;
}

export async function startServer(config: Readonly<Config>, logger: Logger, seams: ServerSeams = {}): Promise<RunningServer> {
  const metrics = createMetrics();
  const meta = readModelMeta(config.model.path);
  const model = { events: meta.events, thresholds: meta.thresholds, featureDim: meta.featureDim, windowSize: meta.windowSize };
  const events = await EventLog.open({ events: config.events, kakao: config.kakao, logLevel: config.logLevel }, logger, metrics);
  events.useLabels(meta.labels);

  const pool = new InferencePool({
    modelPath: config.model.path,
    inference: config.inference,
    logLevel: config.logLevel,
    logger,
    workerFile: seams.inferenceWorker,
    onRunSeconds: (s) => metrics.inference.runTime.observe(s),
  });
  const batcher = new MicroBatcher((task) => pool.run(task), {
    maxBatch: config.inference.maxBatch,
    maxWaitMs: config.inference.maxWaitMs,
    queueMax: config.inference.queueMax,
    concurrency: config.inference.workers,
    featureDim: meta.featureDim,
    outputs: meta.events.length,
  }, {
    queueDepth: (depth) => metrics.inference.queueDepth.set(depth),
    rejected: () => metrics.inference.rejected.inc(),
    batchStarted: (size, waits) => {
      metrics.inference.batchSize.observe(size);
      for (const w of waits) metrics.inference.queueWait.observe(w);
    },
    batchFailed: (reason) => metrics.inference.failures.labels(reason).inc(),
  });

  const board = new CameraBoard();
  const streams = new StreamHub({
    observe: (camera, analysis) => board.analysis(camera, analysis.result.events, analysis.result.scores, analysis.result.thresholds),
    model,
    analyze: (frames, data) => batcher.submit(data, frames),
    events,
    config: config.stream,
    metrics,
    logger,
  });

  const decodedBodies = { fast: metrics.inference.decoded.labels('fast'), general: metrics.inference.decoded.labels('general') };
  const modelUnavailable = (): string | null => {
    const s = pool.status();
    if (s.failure) return `the model failed to load: ${s.failure}`;
    return s.loaded < s.expected ? `the model is loading (${s.loaded}/${s.expected} inference workers ready)` : null;
  };
  const readiness = (): Readiness => {
    const s = pool.status();
    const reasons = [modelUnavailable(), events.readiness()].filter((r): r is string => r !== null);
    return {
      ready: reasons.length === 0,
      body: {
        status: reasons.length === 0 ? 'ready' : 'not_ready',
        ...(reasons.length ? { reasons } : {}),
        workers: { loaded: s.loaded, expected: s.expected },
        device: s.provider,
        model: { path: config.model.path, events: meta.events, window_size: meta.windowSize, feature_dim: meta.featureDim },
        event_log: config.events.logPath,
      },
    };
  };

  const watch = new WatchService({
    board,
    events,
    metrics,
    readiness: () => readiness().body,
    openStreams: () => streams.openStreams,
    model: { events: meta.events, thresholds: meta.thresholds, labels: meta.labels },
    keepRecent: config.events.keepRecent,
  });

  const routes: RouteSpec<any, any>[] = [];
  routes.push(
    ...healthRoutes(readiness),
    ...behaviorRoutes({
      model,
      analyze: (window) => batcher.submit(window.data, window.frames),
      unavailableReason: modelUnavailable,
      fastParse: createAnalyzeBodyParser(model),
      decoded: (decoder) => decodedBodies[decoder].inc(),
    }),
    ...eventRoutes(events, config.idempotency),
    ...kakaoDebugRoutes(events),
    ...metricsRoutes(metrics.registry),
    ...docsRoutes(() => buildOpenApi(routes, {
      title: 'Behaviour anomaly detection backend',
      version: '1.0.0',
      description: 'Pose-feature windows in, per-event anomaly scores out; agent events, recent events and KakaoTalk alerts.',
    }, streamDocs()), model),
    ...watchRoutes({ service: watch, board, token: config.watch.token, adminToken: config.http.adminToken, secureCookie: config.watch.publicUrl?.startsWith('https:') ?? false }),
  );

  const http = new HttpServer({ routes, config: config.http, logger, metrics, extend: (app) => mountStreamSocket(app, streams, config.stream, corsPolicy(config.http.corsOrigins)) });
  let port: number;
  try {
    port = await http.listen();
  } catch (err) {
    watch.close();
    await Promise.all([pool.close(), events.close()]);
    throw err;
  }
  if (!UWS_IS_NATIVE) logger.warn('uWebSockets.js native binary did not load for this Node.js version: running on its slow pure-JS fallback');
  logger.info({ host: config.http.host, port, native: UWS_IS_NATIVE, workers: config.inference.workers, model: config.model.path }, 'listening');
  if (config.http.reusePort) {
    logger.warn({ port }, 'BACKEND_REUSE_PORT: this port may be shared with other processes; each keeps its own event log state (recent events, Idempotency-Keys, Kakao cooldowns), so /event/recent and retries see only this process\'s events');
  }

  const ready = pool.ready.then(() => {
    const s = pool.status();
    logger.info({ device: s.provider, workers: s.loaded, events: meta.events, windowSize: meta.windowSize }, 'ready: every inference worker has its model');
  });

  let shuttingDown: Promise<void> | null = null;
  const shutdown = () =>
    (shuttingDown ??= (async () => {
      logger.info('shutting down: no new connections; finishing in-flight requests');
      http.stopListening();
      watch.close();
      streams.shutdown(); // active stream events END and are written before the log closes
      batcher.close();
      const drained = await http.drain(config.http.shutdownTimeoutMs);
      if (!drained) logger.warn({ timeoutMs: config.http.shutdownTimeoutMs }, 'shutdown timeout: some requests were still in flight');
      await events.close();
      await pool.close();
      http.close();
      logger.info('shutdown complete');
    })());

  return { port, ready, shutdown, reopenEventLog: () => events.reopen() };
}
