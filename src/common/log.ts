import { isMainThread } from 'node:worker_threads';
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths that may carry a secret anywhere in a log object. pino's redaction runs on every log
 * call, so secrets never reach the output even when a whole config or request is logged.
 */
export const REDACT_PATHS = [
  'accessToken', 'refreshToken', 'clientSecret', 'restApiKey', 'adminToken', 'authorization',
  '*.accessToken', '*.refreshToken', '*.clientSecret', '*.restApiKey', '*.adminToken', '*.authorization',
  '*.access_token', '*.refresh_token', '*.client_secret', 'headers.authorization',
];

/** Longest error message and stack written for an `err` field: messages may quote client input. */
const MAX_ERROR_MESSAGE_CHARS = 500;
const MAX_ERROR_STACK_CHARS = 4000;

function clippedError(err: unknown): unknown {
  const serialized = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  if (!serialized || typeof serialized !== 'object') return serialized;
  const clip = (value: unknown, max: number) => (typeof value === 'string' && value.length > max ? `${value.slice(0, max)}… (clipped)` : value);
  const out: Record<string, unknown> = { type: serialized.type, message: clip(serialized.message, MAX_ERROR_MESSAGE_CHARS), stack: clip(serialized.stack, MAX_ERROR_STACK_CHARS) };
  if (serialized.code !== undefined) out.code = clip(String(serialized.code), 100);
  return out;
}

/** The process logger: JSON lines on stdout, secrets redacted. Workers create their own with a `thread` binding. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid, ...bindings },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: clippedError },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    // A worker thread's asynchronous buffer is lost when the thread stops; its few lines are written at once.
    isMainThread ? undefined : pino.destination({ dest: 1, sync: true }),
  );
}
