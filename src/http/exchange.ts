/**
 * One request/response pair. uWebSockets.js hands out request data that is valid only inside
 * the synchronous callback, and a response that may be aborted at any time: the Exchange copies
 * what later code needs up front, tracks the abort, reads the body under a size limit, and
 * refuses to write to a response that is gone.
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { BodyBuffers } from './body-buffers.js';
import { JSON_TYPE, LARGE_BODY_BYTES, statusLine, writeResponse } from './reply.js';

/** An open text/event-stream answer. */
export interface EventStreamOut {
  /** Writes one chunk (whole `event:`/`data:` blocks); false when the client is gone or behind (the chunk is dropped). */
  write(chunk: string): boolean;
  /** Ends the answer (the client's EventSource reconnects). */
  end(): void;
}

/** Unsent bytes on an event stream past which its chunks are dropped (the client is told to resync). */
const EVENT_STREAM_MAX_BUFFERED = 256 * 1024;

/** The body is over the limit; the rest of it is not read and the connection is closed. */
export class PayloadTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body is larger than the limit of ${limit} bytes`);
  }
}

/** The client went away before the body arrived; there is nobody to answer. */
export class AbortedError extends Error {
  constructor() {
    super('request aborted by the client');
  }
}

export class Exchange {
  readonly startedAt = performance.now();
  readonly query: string;
  readonly contentLength: number;
  readonly authorization: string;
  /** The Idempotency-Key header ('' when absent); read here because the request is gone once the body arrives. */
  readonly idempotencyKey: string;
  /** The Cookie header ('' when absent). */
  readonly cookie: string;
  readonly allowOrigin: string | null;
  /** A HEAD request: answered with the headers only, so the next answer on the connection stays intact. */
  readonly headOnly: boolean;
  /** The path's parameters (`/models/:name` → [name]), decoded; empty for a path without any. */
  readonly params: readonly string[];
  aborted = false;
  answered = false;
  private onAbort: (() => void) | null = null;
  private watchingAbort = false;
  private pooled: { buffers: BodyBuffers; buffer: Buffer } | null = null;

  constructor(
    private readonly res: HttpResponse,
    req: HttpRequest,
    readonly method: string,
    readonly path: string,
    allowOrigin: (origin: string) => string | null,
    needsOrigin: boolean,
  ) {
    this.query = req.getQuery() ?? '';
    this.params = path.includes('/:') ? pathParams(req, path) : NO_PARAMS;
    this.headOnly = req.getMethod() === 'head';
    const length = req.getHeader('content-length');
    this.contentLength = length ? Number(length) : -1;
    this.authorization = req.getHeader('authorization');
    this.idempotencyKey = req.getHeader('idempotency-key');
    this.cookie = req.getHeader('cookie');
    this.allowOrigin = allowOrigin(needsOrigin ? req.getHeader('origin') : '');
  }

  /** Must be called before the first await: uWebSockets.js requires it for asynchronous responses. */
  watchAbort(): void {
    if (this.watchingAbort) return;
    this.watchingAbort = true;
    this.res.onAborted(() => {
      this.aborted = true;
      this.onAbort?.();
    });
  }

  /**
   * Reads the whole body, refusing more than `limit` bytes: a declared Content-Length over the
   * limit is refused before any byte is read; a chunked body is refused as soon as it passes it.
   * A body of known length lands in a buffer from `buffers`: call releaseBody() once it is decoded.
   */
  readBody(limit: number, buffers: BodyBuffers): Promise<Buffer> {
    if (this.contentLength > limit) return Promise.reject(new PayloadTooLargeError(limit));
    return new Promise((resolve, reject) => {
      // Known length: one pooled buffer. Chunked: collect copies (uWS neuters each chunk after the callback).
      const exact = this.contentLength >= 0 ? buffers.acquire(this.contentLength) : null;
      if (exact) this.pooled = { buffers, buffer: exact };
      const parts: Buffer[] = [];
      let received = 0;
      let settled = false;
      const fail = (err: Error) => {
        settled = true;
        this.releaseBody();
        reject(err);
      };
      this.onAbort = () => fail(new AbortedError());
      this.res.onData((chunk, isLast) => {
        if (settled) return;
        const bytes = new Uint8Array(chunk);
        if (received + bytes.byteLength > limit || (exact && received + bytes.byteLength > this.contentLength)) {
          fail(new PayloadTooLargeError(limit));
          return;
        }
        if (exact) exact.set(bytes, received);
        else parts.push(Buffer.from(bytes));
        received += bytes.byteLength;
        if (isLast) {
          settled = true;
          resolve(exact ? exact.subarray(0, received) : Buffer.concat(parts, received));
        }
      });
    });
  }

  /** Returns the body's buffer to its pool; the bytes must not be used afterwards. */
  releaseBody(): void {
    if (!this.pooled) return;
    this.pooled.buffers.release(this.pooled.buffer);
    this.pooled = null;
  }

  /**
   * Starts an answer that stays open (text/event-stream) and hands it to `start`; what `start`
   * returns runs once when the client goes or the stream is ended. Must run inside the request's
   * uWS callback or after watchAbort(). A client that does not read has chunks dropped past
   * EVENT_STREAM_MAX_BUFFERED, then gets `event: resync` once it drains.
   */
  openEventStream(start: (out: EventStreamOut) => () => void, headers?: Readonly<Record<string, string>>): boolean {
    if (this.aborted || this.answered) return false;
    this.answered = true;
    this.watchAbort();
    const res = this.res;
    let stop: (() => void) | null = null;
    let ended = false;
    let behind = false;
    const finish = () => {
      if (ended) return;
      ended = true;
      stop?.();
    };
    this.onAbort = finish;
    res.cork(() => {
      res.writeStatus(statusLine(200));
      res.writeHeader('Content-Type', 'text/event-stream; charset=utf-8');
      res.writeHeader('Cache-Control', 'no-store');
      res.writeHeader('X-Accel-Buffering', 'no');
      if (this.allowOrigin) res.writeHeader('Access-Control-Allow-Origin', this.allowOrigin);
      if (headers) for (const key in headers) res.writeHeader(key, headers[key]!);
      res.write(': open\n\n');
    });
    // Bytes written since the socket last refused to take more at once (uWS buffers them).
    let waiting = -1;
    const out: EventStreamOut = {
      write: (chunk) => {
        if (ended || this.aborted || behind) return false;
        if (waiting >= 0 && waiting + chunk.length > EVENT_STREAM_MAX_BUFFERED) {
          behind = true;
          return false;
        }
        let taken = true;
        res.cork(() => { taken = res.write(chunk); });
        if (waiting >= 0) waiting += chunk.length;
        else if (!taken) {
          waiting = chunk.length;
          res.onWritable(() => {
            waiting = -1;
            if (behind && !ended && !this.aborted) {
              behind = false;
              res.cork(() => res.write('event: resync\ndata: {}\n\n'));
            }
            return true;
          });
        }
        return true;
      },
      end: () => {
        if (ended) return;
        if (!this.aborted) res.cork(() => res.end());
        finish();
      },
    };
    stop = start(out);
    return true;
  }

  /** Sends a response unless the client is gone or an answer was already sent. */
  send(status: number, body: string | Uint8Array, contentType = JSON_TYPE, headers?: Readonly<Record<string, string>>, closeConnection = false): boolean {
    if (this.aborted || this.answered) return false;
    this.answered = true;
    // A large body is written as the socket drains, after this callback returns.
    if (body.length >= LARGE_BODY_BYTES / 4) this.watchAbort();
    writeResponse(this.res, status, contentType, body, this.allowOrigin, headers, closeConnection, this.headOnly);
    return true;
  }
}

const NO_PARAMS: readonly string[] = [];

function pathParams(req: HttpRequest, path: string): string[] {
  const count = path.split('/').filter((part) => part.startsWith(':')).length;
  return Array.from({ length: count }, (_, i) => {
    const raw = req.getParameter(i) ?? '';
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  });
}
