/**
 * The error catalogue. Every failure the server reports over HTTP is an AppError with a code
 * from this table; `src/http/reply.ts` is the one place that turns it into a response.
 * Across threads only `{code, message}` travels (structured clone drops Error subclasses).
 */

export const ERROR_STATUS = {
  /** The body parsed but the domain rejects it (window length, feature count, non-finite). */
  invalid_input: 422,
  /** An Idempotency-Key already used with a different request (IETF draft: 422). */
  idempotency_key_reused: 422,
  /** The request's framing or a header is malformed. */
  bad_request: 400,
  /** A browser request from another site to an endpoint that serves none. */
  cross_site: 403,
  /** A body whose Content-Type is not JSON. */
  unsupported_media_type: 415,
  /** A Kakao debug endpoint was called without the admin token. */
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  /** The model is not loaded (yet, or any more). */
  model_unavailable: 503,
  /** The inference queue is full: try again shortly. */
  overloaded: 503,
  /** The event log cannot be written (disk full, unwritable path). */
  event_log_unavailable: 503,
  /** The event writer's backlog is full: try again shortly. */
  event_backlog_full: 503,
  /** The server is shutting down and takes no new work. */
  shutting_down: 503,
  /** session.run failed, or the worker running it died. */
  inference_failed: 500,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Seconds a client should wait before retrying, for the codes that mean "busy, come back". */
const RETRY_AFTER_SECONDS: Partial<Record<ErrorCode, number>> = {
  overloaded: 1,
  event_backlog_full: 1,
  event_log_unavailable: 5,
  shutting_down: 5,
};

/** The plain-data form of an error, safe to post between threads. */
export interface ErrorData {
  code: ErrorCode;
  message: string;
}

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
