/**
 * Every open stream on the server: the limits (per socket, in total), routing of each socket's
 * messages to its streams, sending results back under back-pressure, and writing server-side
 * events through the event log. Knows nothing of uWebSockets.js: a socket is a StreamPeer.
 */
import { describeValue } from '../validation/input-limits.js';
import type { StreamConfig } from '../config.js';
import { AppError } from '../common/errors.js';
import type { EventLog } from '../events/event-log.js';
import type { EventPayloadInput } from '../contracts/api.js';
import { recordFromPayload } from '../events/records.js';
import type { ModelRegistry, ServedModel } from '../inference/model-registry.js';
import type { Logger } from '../common/log.js';
import type { Metrics } from '../metrics.js';
import type { StreamOpen } from '../contracts/stream.js';
import { AnalysisStream, type StreamAnalysisResult, type StreamServices, type StreamSettings } from './analysis-stream.js';
import { decodeBinary, decodeText, StreamMessageError, type DecodedFrame } from './stream-messages.js';

/** One WebSocket, as the hub sees it. */
export interface StreamPeer {
  /** Sends a text message; false if the socket is closed or refused it. */
  send(text: string): boolean;
  /** Bytes waiting to be sent on this socket. */
  bufferedBytes(): number;
  /** Closes the socket (server shutdown). */
  end(code: number, reason: string): void;
  /** The client's address: streams are limited per address as well as per socket. */
  readonly address: string;
}

export interface StreamHubDeps {
  /** The served set: each stream's model is looked up here at every analysis (a reload moves it). */
  models: Pick<ModelRegistry, 'select' | 'get' | 'featureDim' | 'models'>;
  events: Pick<EventLog, 'append'>;
  config: StreamConfig;
  metrics: Metrics;
  logger: Logger;
  /** Told of every analysis, with the stream's session_id (the watch page's cameras). */
  observe?(sessionId: string, analysis: StreamAnalysisResult): void;
}

export class StreamHub {
  private readonly connections = new Set<StreamConnection>();
  openStreams = 0;
  /** Open streams per client address (entries leave at zero). */
  private readonly perClient = new Map<string, number>();
  /** The per-analysis outcome counters, looked up once rather than by label on every analysis. */
  readonly outcomes;

  constructor(readonly deps: StreamHubDeps) {
    const analyses = deps.metrics.stream.analyses;
    this.outcomes = { sent: analyses.labels('sent'), dropped: analyses.labels('dropped'), superseded: analyses.labels('superseded') };
  }

  connect(peer: StreamPeer): StreamConnection {
    const connection = new StreamConnection(this, peer);
    this.connections.add(connection);
    return connection;
  }

  forget(connection: StreamConnection): void {
    this.connections.delete(connection);
  }

  /** Counts a stream opened (+1) or closed (-1) for the server and for its client's address. */
  countStream(address: string, change: 1 | -1): void {
    this.openStreams += change;
    const n = (this.perClient.get(address) ?? 0) + change;
    if (n > 0) this.perClient.set(address, n);
    else this.perClient.delete(address);
    this.deps.metrics.stream.open.set(this.openStreams);
  }

  streamsOf(address: string): number {
    return this.perClient.get(address) ?? 0;
  }

  /** Server shutdown: END active events, then close every socket. */
  shutdown(): void {
    for (const connection of [...this.connections]) {
      connection.closeAll();
      connection.peer.end(1001, 'server shutting down');
    }
  }
}

/** One socket's streams. */
export class StreamConnection {
  private readonly streams = new Map<string, AnalysisStream>();
  private readonly services: StreamServices;

  constructor(private readonly hub: StreamHub, readonly peer: StreamPeer) {
    const { config, models } = hub.deps;
    this.services = {
      startAfter: config.startAfter,
      endAfter: config.endAfter,
      resolve: (stream) => {
        const { model, window } = stream.settings;
        if (model === null) return models.select(undefined, window);
        const named = models.get(model);
        if (!named) throw new AppError('model_unavailable', `model ${JSON.stringify(model)} is no longer served`);
        if (named.windowSize > 0 && named.windowSize !== window) {
          throw new AppError('model_unavailable', `model ${model} now takes ${named.windowSize} frames; this stream's window is ${window}: reopen it`);
        }
        return named;
      },
      deliver: (stream, analysis) => this.deliver(stream, analysis),
      failed: (stream, err) => this.failed(stream, err),
      superseded: () => hub.outcomes.superseded.inc(),
      emit: (stream, payloads) => void this.emit(stream, payloads),
    };
  }

  /** One message from the socket (the buffer is only valid during this call). */
  onMessage(message: ArrayBuffer, isBinary: boolean): void {
    const { featureDim } = this.hub.deps.models;
    try {
      const decoded = isBinary ? decodeBinary(message, featureDim) : decodeText(Buffer.from(message).toString('utf8'), featureDim);
      switch (decoded.kind) {
        case 'frame':
          return this.onFrame(decoded);
        case 'open':
          this.open(decoded.message);
          return;
        case 'close':
          return this.closeStream(decoded.streamId);
      }
    } catch (err) {
      if (err instanceof StreamMessageError) {
        this.hub.deps.metrics.stream.messageErrors.labels('bad_message').inc();
        this.notice({ type: 'error', ...(err.streamId ? { stream_id: err.streamId } : {}), code: 'bad_message', detail: err.detail });
        return;
      }
      // A bug, not the client's fault: this runs inside a uWS callback, where a throw would end the process.
      this.hub.deps.metrics.stream.messageErrors.labels('internal').inc();
      this.hub.deps.logger.error({ err }, 'stream message could not be handled');
      this.notice({ type: 'error', code: 'internal', detail: 'the message could not be handled' });
    }
  }

  /** The socket closed: free its streams (active events END). */
  onClose(): void {
    this.closeAll();
    this.hub.forget(this);
  }

  closeAll(): void {
    for (const id of [...this.streams.keys()]) this.closeStream(id, false);
  }

  private onFrame(frame: DecodedFrame): void {
    const arrival = performance.now();
    const stream = this.streams.get(frame.streamId) ?? this.open({ type: 'open', stream_id: frame.streamId }, false);
    if (!stream) return;
    this.hub.deps.metrics.stream.frames.inc();
    try {
      stream.push(frame, arrival);
    } catch (err) {
      this.hub.deps.metrics.stream.messageErrors.labels('bad_message').inc();
      this.notice({ type: 'error', stream_id: frame.streamId, code: 'bad_message', detail: (err as Error).message });
    }
  }

  private open(message: StreamOpen, explicit = true): AnalysisStream | undefined {
    const { config, models } = this.hub.deps;
    const id = message.stream_id;
    const refuse = (code: string, detail: string) => {
      this.hub.deps.metrics.stream.messageErrors.labels(code).inc();
      this.notice({ type: 'error', stream_id: id, code, detail });
      return undefined;
    };
    if (this.streams.has(id)) return refuse('bad_message', `stream ${id} is already open`);
    // The named model, or the one whose window is the stream's (given, else the default).
    let model: ServedModel;
    let window: number;
    if (message.model !== undefined) {
      const named = models.get(message.model);
      if (!named) return refuse('bad_message', `model: unknown model ${describeValue(message.model)}; this server serves ${models.models.map((m) => m.name).join(', ')}`);
      if (message.window !== undefined && named.windowSize > 0 && message.window !== named.windowSize) {
        return refuse('bad_message', `window: the model takes ${named.windowSize} frames, got ${message.window}`);
      }
      model = named;
      window = named.windowSize || message.window || config.defaultWindow;
    } else {
      const only = models.models.length === 1 ? models.models[0]! : null;
      window = message.window ?? (only ? only.windowSize || config.defaultWindow : config.defaultWindow);
      if (only && only.windowSize > 0 && window !== only.windowSize) {
        return refuse('bad_message', `window: the model takes ${only.windowSize} frames, got ${window}`);
      }
      try {
        model = models.select(undefined, window);
      } catch (err) {
        return refuse('bad_message', `window: ${(err as Error).message}`);
      }
    }
    if (this.streams.size >= config.maxPerSocket) return refuse('limit', `at most ${config.maxPerSocket} streams per socket`);
    if (this.hub.openStreams >= config.maxTotal) return refuse('limit', `the server has its maximum of ${config.maxTotal} open streams`);
    if (this.hub.streamsOf(this.peer.address) >= config.maxPerClient) return refuse('limit', `at most ${config.maxPerClient} streams per client address`);
    const settings: StreamSettings = {
      id,
      window,
      stride: message.stride ?? config.defaultStride,
      events: message.events ?? false,
      probsEvery: message.probs_every ?? config.probsEvery,
      sessionId: message.session_id ?? id,
      userId: message.user_id ?? null,
      model: message.model ?? null,
    };
    const stream = new AnalysisStream(settings, this.services, model);
    this.streams.set(id, stream);
    this.hub.countStream(this.peer.address, 1);
    this.hub.deps.logger.debug({ stream: id, client: this.peer.address, window: settings.window, stride: settings.stride, events: settings.events, open: this.hub.openStreams }, 'stream opened');
    if (explicit) {
      this.notice({ type: 'opened', stream_id: id, window: settings.window, stride: settings.stride, events: settings.events, probs_every: settings.probsEvery, session_id: settings.sessionId, model: model.name });
    }
    return stream;
  }

  private closeStream(id: string, reply = true): void {
    const stream = this.streams.get(id);
    if (!stream) {
      if (reply) this.notice({ type: 'error', stream_id: id, code: 'unknown_stream', detail: `stream ${id} is not open` });
      return;
    }
    this.streams.delete(id);
    this.hub.countStream(this.peer.address, -1);
    this.hub.deps.logger.debug({ stream: id, client: this.peer.address, open: this.hub.openStreams }, 'stream closed');
    // `closed` follows the notices of the ENDs this closing wrote, so a client may hang up on it.
    const ends = stream.close();
    const written = ends.length ? this.emit(stream, ends) : Promise.resolve();
    if (reply) void written.then(() => this.notice({ type: 'closed', stream_id: id }));
  }

  private deliver(stream: AnalysisStream, analysis: StreamAnalysisResult): boolean {
    this.hub.deps.observe?.(stream.settings.sessionId, analysis);
    const sent = this.sendBounded({
      type: 'analysis',
      stream_id: stream.id,
      index: analysis.index,
      frames: analysis.frames,
      latency_ms: Math.round(analysis.latencyMs * 1000) / 1000,
      dropped: analysis.dropped,
      ...analysis.result,
    });
    (sent ? this.hub.outcomes.sent : this.hub.outcomes.dropped).inc();
    if (!sent) stream.countDropped();
    return sent;
  }

  private failed(stream: AnalysisStream, err: unknown): void {
    const code = err instanceof AppError ? err.code : 'inference_failed';
    this.hub.deps.metrics.stream.analyses.labels(code).inc();
    this.sendBounded({ type: 'error', stream_id: stream.id, code, detail: err instanceof AppError ? err.message : 'analysis failed' });
  }

  /** Writes each payload like POST /event/payload would (END sends the memo), then tells the socket. */
  private emit(stream: AnalysisStream, payloads: EventPayloadInput[]): Promise<void> {
    const { sessionId, userId } = stream.settings;
    const notices: Promise<unknown>[] = [];
    for (const payload of payloads) {
      let record;
      try {
        record = recordFromPayload({ ...payload, session_id: sessionId, user_id: userId }, Date.now() / 1000);
      } catch (err) {
        this.sendBounded({ type: 'error', stream_id: stream.id, code: 'bad_message', detail: (err as Error).message });
        continue;
      }
      const written = this.hub.deps.events.append(record, { alert: payload.type === 'END' }).then(
        () => this.sendBounded({ type: 'event', stream_id: stream.id, event_id: record.event_id, payload: record.data }),
        (err: Error) => {
          this.hub.deps.logger.warn({ stream: stream.id, event: payload.type, reason: err.message }, 'stream event not written');
          this.sendBounded({ type: 'error', stream_id: stream.id, code: err instanceof AppError ? err.code : 'internal', detail: `event not written: ${err.message}` });
        },
      );
      notices.push(written);
    }
    return Promise.all(notices).then(
      () => undefined,
      (err: unknown) => this.hub.deps.logger.error({ err, stream: stream.id }, 'stream event notice failed'),
    );
  }

  /** Sends unless the socket already holds more than the configured bound (a slow consumer). */
  private sendBounded(message: Record<string, unknown>): boolean {
    if (this.peer.bufferedBytes() > this.hub.deps.config.maxBackpressureBytes) return false;
    return this.peer.send(JSON.stringify(message));
  }

  /** Control replies (opened, closed, errors) are small and always sent. */
  private notice(message: Record<string, unknown>): void {
    this.peer.send(JSON.stringify(message));
  }
}
