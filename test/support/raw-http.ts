/**
 * HTTP/1.1 by hand over node:net, for what an HTTP client will not send: pipelined requests,
 * duplicate framing headers, HTTP/1.0, malformed heads.
 */
import { connect } from 'node:net';

export interface RawReply {
  /** Every byte the server sent, as text. */
  text: string;
  /** Whether the server closed the connection (rather than `until` being met). */
  closed: boolean;
  /** Milliseconds from connecting to the end. */
  ms: number;
}

/**
 * Writes `parts` (one write each, in order) and collects the answer until the server closes the
 * connection or `until` holds for what arrived; rejects after `timeoutMs`.
 */
export function rawRequest(port: number, parts: string | readonly string[], until?: (text: string) => boolean, timeoutMs = 30_000): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed, ms: performance.now() - started });
    };
    const timer = setTimeout(() => {
      done = true;
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; received ${JSON.stringify(text.slice(0, 200))}`));
    }, timeoutMs);
    socket.on('connect', () => {
      for (const part of typeof parts === 'string' ? [parts] : parts) socket.write(part);
    });
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (until?.(text)) finish(false);
    });
    socket.on('end', () => finish(true));
    // A reset after the server closed its side is still the server closing.
    socket.on('error', () => finish(true));
  });
}

/** The status codes of the responses in `text`, in order (a response follows the last one's body directly). */
export function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

/** A complete request with a JSON body and the given extra header lines. */
export function postJson(path: string, body: unknown, headers: readonly string[] = []): string {
  const text = JSON.stringify(body);
  return [`POST ${path} HTTP/1.1`, 'Host: localhost', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(text)}`, ...headers, '', text].join('\r\n');
}
