/**
 * Defaults the server's configuration and its clients (the demo agent, the events CLI) share, so a
 * client need not load the server's configuration to act like it.
 */

/** Frames per stream window when neither the model nor BACKEND_STREAM_WINDOW fixes one. */
export const DEFAULT_STREAM_WINDOW = 16;

/** BACKEND_STREAM_START_AFTER / BACKEND_STREAM_END_AFTER: the server-side START/END hysteresis. */
export const DEFAULT_STREAM_START_AFTER = 3;
export const DEFAULT_STREAM_END_AFTER = 3;

/** BACKEND_STREAM_MAX_PER_SOCKET. */
export const DEFAULT_STREAMS_PER_SOCKET = 16;

/** BACKEND_EVENT_LOG_JSONL, relative to the working directory. */
export const DEFAULT_EVENT_LOG = 'events_log.jsonl';

/** NATS_URL and BACKEND_NATS_STREAM: where the NATS event store (BACKEND_EVENT_STORE=nats) is. */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_NATS_STREAM = 'BEHAVIOR_EVENTS';
