/**
 * Request framing that uWebSockets.js accepts but must not be trusted: it takes the first of
 * several Content-Length headers and treats any Transfer-Encoding as chunked, so a proxy in front
 * that reads them otherwise would see the rest of the body as another request (smuggling).
 * Such a request is answered 400 and its connection closed; nothing behind it is served.
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { JSON_TYPE, writeResponse } from './reply.js';

/** What is wrong with the request's framing headers, or null when nothing is. */
export function framingProblem(req: HttpRequest): string | null {
  let lengths = 0;
  let encodings = 0;
  let length = '';
  let encoding = '';
  // getHeader() sees only the first of a repeated header: walk them all.
  req.forEach((key, value) => {
    if (key === 'content-length') {
      lengths++;
      length = value;
    } else if (key === 'transfer-encoding') {
      encodings++;
      encoding = value;
    }
  });
  if (lengths > 1) return 'more than one Content-Length';
  if (encodings > 1) return 'more than one Transfer-Encoding';
  if (lengths && encodings) return 'both Content-Length and Transfer-Encoding';
  if (lengths && !/^[0-9]+$/.test(length)) return 'Content-Length is not a number';
  if (encodings && encoding.trim().toLowerCase() !== 'chunked') return 'Transfer-Encoding other than chunked';
  return null;
}

/**
 * Answers 400 and closes the connection. The answer waits for the current read to be parsed:
 * uWebSockets.js would serve a request pipelined behind an answer sent at once, while one
 * pipelined behind a pending answer makes it close the connection without serving it.
 */
export function refuseFraming(res: HttpResponse, problem: string): void {
  let aborted = false;
  res.onAborted(() => (aborted = true));
  setImmediate(() => {
    if (!aborted) writeResponse(res, 400, JSON_TYPE, JSON.stringify({ detail: `Bad Request: ${problem}` }), null, undefined, true);
  });
}
