/**
 * The models the server serves, and their swap. A generation is one model set loaded into one
 * Piscina pool (every worker holds a session for every model) with one batcher per model feeding
 * it, so a batch never mixes models or versions. A reload builds the next generation beside the
 * current one; once every new worker has every model, new requests go to it, and the old one
 * finishes what it had queued and closes. A set that fails to load leaves the current one serving.
 */
import { describeValue } from '../validation/input-limits.js';
import { AppError } from '../common/errors.js';
import { describeModelSet, firstLine, type ModelDescription, type ModelMeta } from '../common/model-meta.js';
import type { ModelOutputs } from '../common/analysis-json.js';
import type { Logger } from '../common/log.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import { checkFrameCount, type WindowShape } from './analysis.js';
import { MicroBatcher } from './batcher.js';
import { InferencePool } from './pool.js';

/** One model version taking requests: what routes, streams and answers need of it. */
export class ServedModel implements ModelOutputs, WindowShape {
  readonly events: readonly string[];
  readonly thresholds: readonly number[];
  readonly featureDim: number;
  readonly windowSize: number;
  /** The answer's `model` field: one object shared by every answer of this version. */
  readonly ref: { readonly name: string; readonly version: string };
  private readonly counted: { inc(): void };

  constructor(
    readonly description: ModelDescription,
    readonly loadedAt: Date,
    private readonly batcher: MicroBatcher,
    metrics: Metrics,
  ) {
    const { meta } = description;
    this.events = meta.events;
    this.thresholds = meta.thresholds;
    this.featureDim = meta.featureDim;
    this.windowSize = meta.windowSize;
    this.ref = Object.freeze({ name: description.name, version: description.version });
    this.counted = metrics.inference.requests.labels(description.name);
  }

  get name(): string {
    return this.description.name;
  }

  get version(): string {
    return this.description.version;
  }

  get meta(): ModelMeta {
    return this.description.meta;
  }

  /** Queues one window (frames × featureDim values) on this version's batcher; resolves with its scores. */
  submit(data: Float32Array, frames: number): Promise<Float32Array> {
    this.counted.inc();
    return this.batcher.submit(data, frames);
  }
}

/** One model set in one pool. */
class Generation {
  readonly byName = new Map<string, ServedModel>();
  /** Frame count → the one model it selects (window fixed at that count, or the only window-0 model). */
  readonly byFrames = new Map<number, ServedModel>();
  readonly anyLength: ServedModel[] = [];
  readonly list: ServedModel[] = [];
  readonly batchers: MicroBatcher[] = [];

  constructor(readonly pool: InferencePool) {}

  index(): void {
    for (const model of this.list) {
      this.byName.set(model.name, model);
      if (model.windowSize === 0) this.anyLength.push(model);
    }
    const fixed = new Map<number, ServedModel[]>();
    for (const model of this.list) if (model.windowSize > 0) fixed.set(model.windowSize, [...(fixed.get(model.windowSize) ?? []), model]);
    for (const [frames, models] of fixed) {
      const fits = [...models, ...this.anyLength];
      if (fits.length === 1) this.byFrames.set(frames, fits[0]!);
    }
  }

  /** The set in words, for 422s: `a (window 16), b (window 60)`. */
  describe(models: readonly ServedModel[] = this.list): string {
    return models.map((m) => `${m.name} (window ${m.windowSize === 0 ? 'any' : m.windowSize})`).join(', ');
  }

  /** Refuses new windows; resolves once every window taken has been answered, then stops the workers. */
  async retire(): Promise<void> {
    for (const batcher of this.batchers) batcher.close();
    await Promise.all(this.batchers.map((b) => b.idle()));
    await this.pool.close();
  }
}

export interface ReloadOutcome {
  ok: boolean;
  /** When the reload finished (ISO 8601). */
  at: string;
  /** Why the new set was refused (ok: false). */
  reason?: string;
  /** What serves now: the new set, or the previous one after a failure. */
  models: { name: string; version: string }[];
  /** Compared with the previous set (ok: true). */
  added?: string[];
  removed?: string[];
  changed?: string[];
}

export interface ModelRegistryOptions {
  config: Readonly<Config>;
  logger: Logger;
  metrics: Metrics;
  /** The worker entry; tests may wrap the real one. */
  workerFile?: URL;
}

export class ModelRegistry {
  /** Resolves when every worker of the first set has every model; rejects with the first load failure. */
  readonly ready: Promise<void>;
  private current: Generation;
  private readonly retiring = new Set<Promise<void>>();
  private reloading: Promise<ReloadOutcome> | null = null;
  private lastReload: ReloadOutcome | null = null;
  private closed = false;
  private readonly runTimes = new Map<string, { observe(v: number): void }>();

  constructor(private readonly options: ModelRegistryOptions) {
    this.current = this.build(describeModelSet(options.config.model.sources));
    this.ready = this.current.pool.ready;
    this.publish(null, this.current);
  }

  /** The set now taking requests. */
  get models(): readonly ServedModel[] {
    return this.current.list;
  }

  /** The feature count every stream frame must have (the first model's; the bundled models share 169). */
  get featureDim(): number {
    return this.current.list[0]!.featureDim;
  }

  get(name: string): ServedModel | undefined {
    return this.current.byName.get(name);
  }

  get lastReloadOutcome(): ReloadOutcome | null {
    return this.lastReload;
  }

  /**
   * The model that scores a window of `frames` frames: the one named, else the one whose window it
   * is (a window-0 model takes any count). Throws the 422 that names the models and their windows.
   */
  select(name: string | null | undefined, frames: number): ServedModel {
    const generation = this.current;
    if (name !== undefined && name !== null) {
      const named = generation.byName.get(name);
      if (!named) throw new AppError('invalid_input', `unknown model ${describeValue(name)}; this server serves ${generation.describe()}`);
      checkFrameCount(frames, named);
      return named;
    }
    const picked = generation.byFrames.get(frames);
    if (picked) return picked;
    if (frames === 0) throw new AppError('invalid_input', 'frames must not be empty');
    const fits = generation.list.filter((m) => m.windowSize === frames || m.windowSize === 0);
    if (fits.length === 1) return fits[0]!;
    if (generation.list.length === 1) {
      checkFrameCount(frames, generation.list[0]!); // the one model's own message, as before
    }
    if (fits.length === 0) {
      throw new AppError('invalid_input', `no model takes ${frames} frames: this server serves ${generation.describe()}; send a window of one of those lengths or name a model (?model= or "model")`);
    }
    throw new AppError('invalid_input', `${frames} frames fit several models: ${generation.describe(fits)}; name one (?model= or "model")`);
  }

  /** Null when every worker has the set, else why not (→ 503 on analyze, a reason on /ready). */
  unavailableReason(): string | null {
    const s = this.current.pool.status();
    if (s.failure) return `the model failed to load: ${s.failure}`;
    return s.loaded < s.expected ? `the model is loading (${s.loaded}/${s.expected} inference workers ready)` : null;
  }

  poolStatus() {
    return this.current.pool.status();
  }

  /**
   * Re-reads the set (MODEL_CHECKPOINT_PATH as configured) into a new pool beside the current one;
   * switches to it once every new worker has every model. Concurrent calls share one reload.
   */
  reload(): Promise<ReloadOutcome> {
    if (this.closed) return Promise.reject(new AppError('shutting_down', 'the server is shutting down'));
    return (this.reloading ??= this.doReload().finally(() => (this.reloading = null)));
  }

  /** Refuses new windows on every set (shutdown); windows already queued still run. */
  closeIntake(): void {
    this.closed = true;
    for (const batcher of this.current.batchers) batcher.close();
  }

  /** Waits for a reload in progress, then stops every pool once its windows are answered. */
  async close(): Promise<void> {
    this.closeIntake();
    await this.reloading?.catch(() => {});
    await Promise.all([this.current.retire(), ...this.retiring]);
  }

  private async doReload(): Promise<ReloadOutcome> {
    const { logger, metrics } = this.options;
    let next: Generation;
    try {
      next = this.build(describeModelSet(this.options.config.model.sources));
    } catch (err) {
      return this.failed(firstLine(err));
    }
    try {
      await next.pool.ready;
    } catch (err) {
      await next.retire().catch(() => {});
      return this.failed(firstLine(err));
    }
    if (this.closed) {
      await next.retire();
      return this.failed('the server is shutting down');
    }
    const previous = this.current;
    this.current = next;
    this.publish(previous, next);
    const retired = previous.retire().catch((err: unknown) => logger.error({ err }, 'closing the previous model set failed'));
    this.retiring.add(retired);
    void retired.finally(() => this.retiring.delete(retired));

    const before = new Map(previous.list.map((m) => [m.name, m.version]));
    const outcome: ReloadOutcome = {
      ok: true,
      at: new Date().toISOString(),
      models: next.list.map((m) => ({ ...m.ref })),
      added: next.list.filter((m) => !before.has(m.name)).map((m) => m.name),
      removed: previous.list.filter((m) => !next.byName.has(m.name)).map((m) => m.name),
      changed: next.list.filter((m) => before.has(m.name) && !sameModel(previous.byName.get(m.name)!, m)).map((m) => m.name),
    };
    this.lastReload = outcome;
    metrics.models.reloads.labels('ok').inc();
    logger.info({ models: outcome.models, added: outcome.added, removed: outcome.removed, changed: outcome.changed }, 'models reloaded: new requests go to the new set');
    return outcome;
  }

  private failed(reason: string): ReloadOutcome {
    const outcome: ReloadOutcome = { ok: false, at: new Date().toISOString(), reason, models: this.current.list.map((m) => ({ ...m.ref })) };
    this.lastReload = outcome;
    this.options.metrics.models.reloads.labels('failed').inc();
    this.options.logger.error({ reason, serving: outcome.models }, 'model reload failed; the previous models keep serving');
    return outcome;
  }

  private build(descriptions: ModelDescription[]): Generation {
    const { config, logger, metrics, workerFile } = this.options;
    const pool = new InferencePool({
      models: descriptions.map((d) => ({ name: d.name, path: d.path })),
      inference: config.inference,
      logLevel: config.logLevel,
      logger,
      workerFile,
      onRunSeconds: (s, model) => this.runTime(model).observe(s),
    });
    const generation = new Generation(pool);
    const loadedAt = new Date();
    for (const description of descriptions) {
      const { name, meta } = description;
      const m = metrics.inference;
      const batchSize = m.batchSize.labels(name);
      const queueWait = m.queueWait.labels(name);
      const queueDepth = m.queueDepth.labels(name);
      const batcher = new MicroBatcher((task) => pool.run(task), {
        model: name,
        maxBatch: config.inference.maxBatch,
        maxWaitMs: config.inference.maxWaitMs,
        queueMax: config.inference.queueMax,
        concurrency: config.inference.workers,
        featureDim: meta.featureDim,
        outputs: meta.events.length,
      }, {
        queueDepth: (depth) => queueDepth.set(depth),
        rejected: () => m.rejected.inc(),
        batchStarted: (size, waits) => {
          batchSize.observe(size);
          for (const w of waits) queueWait.observe(w);
        },
        batchFailed: (reason) => m.failures.labels(reason).inc(),
      });
      generation.batchers.push(batcher);
      generation.list.push(new ServedModel(description, loadedAt, batcher, metrics));
    }
    generation.index();
    return generation;
  }

  private runTime(model: string): { observe(v: number): void } {
    let child = this.runTimes.get(model);
    if (!child) this.runTimes.set(model, (child = this.options.metrics.inference.runTime.labels(model)));
    return child;
  }

  private publish(previous: Generation | null, next: Generation): void {
    const info = this.options.metrics.models.info;
    for (const m of previous?.list ?? []) info.remove(m.name, m.version);
    for (const m of next.list) info.labels(m.name, m.version).set(1);
  }
}

/** Same weights and same sidecar settings: a reload that changes nothing a client sees. */
function sameModel(a: ServedModel, b: ServedModel): boolean {
  return a.version === b.version && JSON.stringify(a.meta) === JSON.stringify(b.meta);
}
