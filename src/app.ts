/**
 * The composition root: builds every part from the configuration, in dependency order, and
 * owns the shutdown order. main.ts adds the process concerns (signals, exit codes).
 */
import type { Config } from './config.js';
import type { Logger } from './common/log.js';
import { createMetrics } from './metrics.js';
import { describeStore, EventLog } from './events/event-log.js';
import { memoryEventKeys } from './events/idempotency.js';
import { SharedEventKeys } from './events/shared-keys.js';
import { createAnalyzeBodyParser } from './inference/analyze-body.js';
import type { PackedWindow } from './inference/analysis.js';
import { ModelRegistry, type ReloadOutcome, type ServedModel } from './inference/model-registry.js';
import { HttpServer, UWS_IS_NATIVE } from './http/server.js';
import { buildOpenApi } from './http/openapi.js';
import type { RouteSpec } from './http/route.js';
import { behaviorRoutes } from './http/routes/behavior.js';
import { docsRoutes } from './http/routes/docs.js';
import { eventRoutes } from './http/routes/event.js';
import { kakaoDebugRoutes } from './http/routes/kakao-debug.js';
import { healthRoutes, type Readiness } from './http/routes/health.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { modelRoutes } from './http/routes/models.js';
import { corsPolicy } from './http/reply.js';
import { mountStreamSocket } from './http/stream-socket.js';
import { streamDocs } from './http/stream-docs.js';
import { StreamHub } from './streams/stream-hub.js';
import { watchRoutes } from './http/routes/watch.js';
import { CameraBoard } from './watch/camera-board.js';
import { WatchService } from './watch/watch-service.js';
import type { SupervisorLink } from './supervisor.js';

export interface RunningServer {
  port: number;
  /** Resolves when every inference worker has every model; rejects if one cannot load. */
  ready: Promise<void>;
  /** Re-reads the model set and switches to it once loaded (SIGUSR2, POST /admin/models/reload). */
  reloadModels(): Promise<ReloadOutcome>;
  /** Reopen the event log file (SIGHUP, after logrotate moved it). */
  reopenEventLog(): void;
  /** Stop accepting, finish in-flight work (bounded), write every pending event, close workers. Idempotent. */
  shutdown(): Promise<void>;
}

/** Replaceable parts, for tests that need a worker which can be made to crash. */
export interface ServerSeams {
  inferenceWorker?: URL;
}

/** `supervisor`: the link when this is one of BACKEND_PROCESSES' server processes (main.ts), else null. */
export async function startServer(config: Readonly<Config>, logger: Logger, seams: ServerSeams = {}, supervisor: SupervisorLink | null = null): Promise<RunningServer> {
  const metrics = createMetrics();
  const models = new ModelRegistry({ config, logger, metrics, workerFile: seams.inferenceWorker });
  const events = await EventLog.open({ events: config.events, kakao: config.kakao, idempotency: config.idempotency, logLevel: config.logLevel }, logger, metrics).catch(async (err: unknown) => {
    await models.close();
    throw err;
  });

  // The fast decoder takes the set's windows; rebuilt when a reload changes them.
  const bodyParser = (set: readonly ServedModel[]) => createAnalyzeBodyParser({ featureDim: set[0]!.featureDim, windowSizes: set.filter((m) => m.featureDim === set[0]!.featureDim).map((m) => m.windowSize) });
  let parserFor = models.models;
  let fastParse = bodyParser(parserFor);
  const parseBody = (bytes: Buffer): PackedWindow | undefined => {
    if (models.models !== parserFor) fastParse = bodyParser((parserFor = models.models));
    return fastParse(bytes);
  };

  // Display labels of every served model's events (the first model's label wins); rebuilt after a reload.
  let labelsFor = models.models;
  let labels = mergedLabels(labelsFor);
  const currentLabels = () => (models.models === labelsFor ? labels : (labels = mergedLabels((labelsFor = models.models))));
  events.useLabels(currentLabels);

  const board = new CameraBoard();
  const streams = new StreamHub({
    observe: (camera, analysis) => board.analysis(camera, analysis.result.events, analysis.result.scores, analysis.result.thresholds),
    models,
    events,
    config: config.stream,
    metrics,
    logger,
  });

  const decodedBodies = { fast: metrics.inference.decoded.labels('fast'), general: metrics.inference.decoded.labels('general') };
  const readiness = (): Readiness => {
    const s = models.poolStatus();
    const reasons = [models.unavailableReason(), events.readiness()].filter((r): r is string => r !== null);
    const first = models.models[0]!;
    const reload = models.lastReloadOutcome;
    return {
      ready: reasons.length === 0,
      body: {
        status: reasons.length === 0 ? 'ready' : 'not_ready',
        ...(reasons.length ? { reasons } : {}),
        workers: { loaded: s.loaded, expected: s.expected },
        device: s.provider,
        model: { path: first.description.path, events: first.events, window_size: first.windowSize, feature_dim: first.featureDim },
        models: models.models.map((m) => ({ name: m.name, version: m.version, window_size: m.windowSize, events: m.events })),
        ...(reload ? { reload: { ok: reload.ok, at: reload.at, ...(reload.reason ? { reason: reload.reason } : {}) } } : {}),
        event_log: describeStore(config.events),
        pid: process.pid,
      },
    };
  };

  const watch = new WatchService({
    board,
    events,
    metrics,
    readiness: () => readiness().body,
    openStreams: () => streams.openStreams,
    model: () => ({ events: models.models[0]!.events, thresholds: models.models[0]!.thresholds, labels: currentLabels() }),
    keepRecent: config.events.keepRecent,
  });

  const routes: RouteSpec<any, any>[] = [];
  routes.push(
    ...healthRoutes(readiness),
    ...behaviorRoutes({
      models,
      fastParse: parseBody,
      decoded: (decoder) => decodedBodies[decoder].inc(),
    }),
    ...modelRoutes(models),
    // The NATS store's replicas share their keys; the file store's process keeps its own.
    ...eventRoutes(events, config.events.store === 'nats' ? new SharedEventKeys(events) : memoryEventKeys(config.idempotency)),
    ...kakaoDebugRoutes(events),
    ...metricsRoutes(metrics.registry, supervisor?.shareMetrics(metrics.registry)),
    ...docsRoutes(() => buildOpenApi(routes, {
      title: 'Behaviour anomaly detection backend',
      version: '1.0.0',
      description: 'Pose-feature windows in, per-event anomaly scores out; agent events, recent events and KakaoTalk alerts.',
    }, streamDocs()), { windowSize: models.models[0]!.windowSize, featureDim: models.models[0]!.featureDim }),
    ...watchRoutes({ service: watch, board, token: config.watch.token, adminToken: config.http.adminToken, secureCookie: config.watch.publicUrl?.startsWith('https:') ?? false }),
  );

  const http = new HttpServer({ routes, config: config.http, logger, metrics, extend: (app) => mountStreamSocket(app, streams, config.stream, corsPolicy(config.http.corsOrigins)) });
  let port: number;
  try {
    port = await http.listen();
  } catch (err) {
    watch.close();
    await Promise.all([models.close(), events.close()]);
    throw err;
  }
  if (!UWS_IS_NATIVE) logger.warn('uWebSockets.js native binary did not load for this Node.js version: running on its slow pure-JS fallback');
  logger.info({ host: config.http.host, port, native: UWS_IS_NATIVE, workers: config.inference.workers, models: models.models.map((m) => m.ref) }, 'listening');
  // With the NATS store the processes sharing the port share the event state too.
  if (config.http.reusePort && config.events.store === 'file') {
    logger.warn({ port }, 'BACKEND_REUSE_PORT: this port may be shared with other processes; each keeps its own event log state (recent events, Idempotency-Keys, Kakao cooldowns), so /event/recent and retries see only this process\'s events; BACKEND_EVENT_STORE=nats shares it');
  }

  const ready = models.ready.then(() => {
    const s = models.poolStatus();
    logger.info({ device: s.provider, workers: s.loaded, models: models.models.map((m) => ({ ...m.ref, window: m.windowSize, events: m.events })) }, 'ready: every inference worker has every model');
  });

  let shuttingDown: Promise<void> | null = null;
  const shutdown = () =>
    (shuttingDown ??= (async () => {
      logger.info('shutting down: no new connections; finishing in-flight requests');
      http.stopListening();
      watch.close();
      streams.shutdown(); // active stream events END and are written before the log closes
      models.closeIntake();
      const drained = await http.drain(config.http.shutdownTimeoutMs);
      if (!drained) logger.warn({ timeoutMs: config.http.shutdownTimeoutMs }, 'shutdown timeout: some requests were still in flight');
      await events.close();
      await models.close();
      http.close();
      logger.info('shutdown complete');
    })());

  return { port, ready, shutdown, reopenEventLog: () => events.reopen(), reloadModels: () => models.reload() };
}

/** Every served model's display labels in one map; where two models label one event, the first wins. */
function mergedLabels(set: readonly ServedModel[]): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const model of [...set].reverse()) Object.assign(out, model.meta.labels);
  return out;
}
