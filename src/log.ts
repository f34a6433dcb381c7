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

/** The process logger: JSON lines on stdout, secrets redacted. Workers create their own with a `thread` binding. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid, ...bindings },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    // A worker thread's asynchronous buffer is lost when the thread stops; its few lines are written at once.
    isMainThread ? undefined : pino.destination({ dest: 1, sync: true }),
  );
}
