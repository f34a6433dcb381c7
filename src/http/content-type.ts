/**
 * Request bodies are JSON: `application/json` or a `+json` type, with any parameters (charset).
 * Anything else is refused 415 before the body is read — in particular `text/plain` and form
 * bodies, which a browser sends cross-site without a CORS preflight.
 */
import { AppError } from '../common/errors.js';

const JSON_SUFFIXED = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+\+json$/;

/** Whether a Content-Type names JSON. */
export function isJsonContentType(contentType: string): boolean {
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || JSON_SUFFIXED.test(type);
}

/**
 * Throws 415 unless the body is declared JSON. No Content-Type at all is read as JSON, as the
 * old backend did, for the agents that send none — but not from a browser (an Origin header):
 * a page can post a Blob without a type and without a preflight.
 */
export function assertJsonBody(contentType: string, origin: string): void {
  if (contentType ? isJsonContentType(contentType) : !origin) return;
  throw new AppError('unsupported_media_type', 'Unsupported Media Type: expected application/json');
}
