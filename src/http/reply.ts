/**
 * Writing responses. Status lines and static headers are computed once; every write is corked
 * (one syscall per response) and skipped when the client has gone away.
 */
import { STATUS_CODES } from 'node:http';
import type { HttpResponse } from 'uWebSockets.js';

export const JSON_TYPE = 'application/json';

const statusLines = new Map<number, string>();
/** '200 OK', '422 Unprocessable Entity', ... built once per status. */
export function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (!line) {
    line = `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
    statusLines.set(status, line);
  }
  return line;
}

export interface CorsPolicy {
  /** The Access-Control-Allow-Origin value for a request from `origin`, or null to send none. */
  allowOrigin(origin: string): string | null;
  /** Whether the request's Origin header must be read (false when the answer is always '*'). */
  readonly needsOrigin: boolean;
}

export function corsPolicy(origins: readonly string[]): CorsPolicy {
  if (origins.includes('*')) return { allowOrigin: () => '*', needsOrigin: false };
  const allowed = new Set(origins);
  return { allowOrigin: (origin) => (allowed.has(origin) ? origin : null), needsOrigin: true };
}

/**
 * Bodies from this size on are written as the socket takes them (tryEnd + onWritable) instead of
 * being handed to uWebSockets.js whole: a client that does not read must not make the server copy
 * every large answer into its send buffer.
 */
export const LARGE_BODY_BYTES = 64 * 1024;

/**
 * Writes a whole response. `allowOrigin` is the CORS header value (null for none).
 * Caller guarantees the response has not been aborted, and — for a body of LARGE_BODY_BYTES or
 * more — that an onAborted handler is attached (the answer outlives this call).
 */
export function writeResponse(
  res: HttpResponse,
  status: number,
  contentType: string,
  body: string | Uint8Array,
  allowOrigin: string | null,
  headers?: Readonly<Record<string, string>>,
  closeConnection = false,
  headOnly = false,
): void {
  const large = body.length >= LARGE_BODY_BYTES / 4 ? (typeof body === 'string' ? Buffer.from(body) : body) : null;
  res.cork(() => {
    res.writeStatus(statusLine(status));
    res.writeHeader('Content-Type', contentType);
    if (allowOrigin) {
      res.writeHeader('Access-Control-Allow-Origin', allowOrigin);
      if (allowOrigin !== '*') res.writeHeader('Vary', 'Origin');
    }
    if (headers) for (const key in headers) res.writeHeader(key, headers[key]!);
    if (headOnly) {
      // This build's endWithoutBody(length) leaves the response open: the length goes in as a header.
      res.writeHeader('Content-Length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.length));
      res.endWithoutBody();
    } else if (large && large.length >= LARGE_BODY_BYTES) writeAsDrained(res, large);
    else res.end(body, closeConnection);
  });
}

/** Sends `body` as far as the socket takes it now, and the rest each time it drains. */
function writeAsDrained(res: HttpResponse, body: Uint8Array): void {
  const [ok, done] = res.tryEnd(body, body.length);
  if (ok || done) return;
  res.onWritable((offset) => {
    const [written, finished] = res.tryEnd(body.subarray(offset), body.length);
    return written || finished;
  });
}
