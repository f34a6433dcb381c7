/**
 * The error catalogue: every code the server reports, with its HTTP status. Plain data, so both
 * sides of a thread boundary share it; across threads an error travels as ErrorData.
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
  /** A reload found a model set it cannot serve (the previous set keeps serving). */
  model_set_invalid: 422,
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

/** The plain-data form of an error, safe to post between threads. */
export interface ErrorData {
  code: ErrorCode;
  message: string;
}
