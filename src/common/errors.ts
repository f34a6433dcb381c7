/**
 * AppError: a failure with a code from the catalogue (src/contracts/errors.ts); `src/http/server.ts`
 * is the one place that turns it into a response. Across threads only `{code, message}` travels
 * (structured clone drops Error subclasses).
 */
import { ERROR_STATUS, type ErrorCode, type ErrorData } from '../contracts/errors.js';

export type { ErrorCode, ErrorData };

/** Seconds a client should wait before retrying, for the codes that mean "busy, come back". */
const RETRY_AFTER_SECONDS: Partial<Record<ErrorCode, number>> = {
  overloaded: 1,
  event_backlog_full: 1,
  event_log_unavailable: 5,
  shutting_down: 5,
};

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_STATUS[code];
  }

  get retryAfterSeconds(): number | undefined {
    return RETRY_AFTER_SECONDS[this.code];
  }

  toData(): ErrorData {
    return { code: this.code, message: this.message };
  }

  static fromData(data: ErrorData): AppError {
    return new AppError(data.code in ERROR_STATUS ? data.code : 'internal', data.message);
  }
}

/** The message of anything thrown (an Error's message, else its text). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Compile-time exhaustiveness for discriminated unions; at run time an unknown tag is a bug. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
