/**
 * The event stream made to match the settings: created when missing; when it exists, what decides
 * how records are kept (subjects, replicas, retention, storage) must already agree, or the store is
 * refused with one line naming the setting and both values. Limits (age, size, the duplicate
 * window, discard) are updated to the settings: they change what is kept, never how.
 */
import { nanos, millis } from '@nats-io/transport-node';
import { DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig, type StreamInfo } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { NatsStoreConfig } from '../../../src/contracts/writer.js';
import { streamSubjects } from '../../../src/common/event-stream.js';

/**
 * How long the stream remembers a record's event_id (its msgID) to store a repeated publish once.
 * It covers this writer's own retries after an ack timeout (a few seconds at most); the server keeps
 * every id of the window in memory, so a longer one costs memory at high rates for nothing.
 */
export const DUPLICATE_WINDOW_MS = 30_000;

/** The stream disagrees with the settings; the message is one line for an operator. */
export class StreamMismatch extends Error {
  override name = 'StreamMismatch';
}

type Limits = Pick<StreamConfig, 'max_age' | 'max_bytes' | 'duplicate_window' | 'discard'>;

function wantedLimits(config: NatsStoreConfig): Limits {
  return {
    max_age: nanos(config.maxAgeSec * 1000),
    max_bytes: config.maxBytes > 0 ? config.maxBytes : -1,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    discard: DiscardPolicy.Old,
  };
}

/** Creates the stream or checks it; returns its info. Throws StreamMismatch, or the API's error. */
export async function ensureStream(jsm: JetStreamManager, config: NatsStoreConfig, logger: Logger): Promise<StreamInfo> {
  const name = config.stream;
  let info: StreamInfo;
  try {
    info = await jsm.streams.info(name);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    info = await jsm.streams.add({
      name,
      subjects: streamSubjects(name),
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: config.replicas,
      ...wantedLimits(config),
    });
    logger.info({ stream: name, replicas: config.replicas }, 'created the NATS stream for event records');
    return info;
  }
  const mismatch = disagreement(info.config, config);
  if (mismatch) throw new StreamMismatch(mismatch);
  const limits = wantedLimits(config);
  const changed = (Object.keys(limits) as (keyof Limits)[]).filter((key) => info.config[key] !== limits[key]);
  if (changed.length > 0) {
    info = await jsm.streams.update(name, { ...info.config, ...limits });
    logger.info({ stream: name, changed, max_age_sec: millis(limits.max_age) / 1000, max_bytes: limits.max_bytes }, 'updated the NATS stream\'s limits to the settings');
  }
  return info;
}

/** The first setting the stream disagrees with, as one line, or null. */
function disagreement(have: StreamConfig, config: NatsStoreConfig): string | null {
  const name = config.stream;
  const subjects = streamSubjects(name);
  const haveSubjects = [...(have.subjects ?? [])].sort();
  if (haveSubjects.join() !== [...subjects].sort().join()) {
    return `NATS stream ${name} has subjects ${haveSubjects.join(', ') || '(none)'}, but BACKEND_NATS_STREAM=${name} stores records under ${subjects.join(', ')}: use another stream name, or remove the stream`;
  }
  if (have.num_replicas !== config.replicas) {
    return `NATS stream ${name} has ${have.num_replicas} replica(s), but BACKEND_NATS_REPLICAS is ${config.replicas}: set one to the other (nats stream edit ${name} --replicas ${config.replicas})`;
  }
  if (have.retention !== RetentionPolicy.Limits) {
    return `NATS stream ${name} has retention ${have.retention}, but the event store needs retention limits: use another stream name, or remove the stream`;
  }
  if (have.storage !== StorageType.File) {
    return `NATS stream ${name} has storage ${have.storage}, but the event store needs storage file: use another stream name, or remove the stream`;
  }
  return null;
}
