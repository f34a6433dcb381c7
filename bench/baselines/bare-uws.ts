/**
 * Baseline (b), the HTTP ceiling: uWebSockets.js answering the benchmarked routes with fixed bodies
 * and no work beyond reading the request body. Whatever the server does above this costs it.
 * A child process of the benchmark: prints {"msg":"listening","port":N}; SIGTERM stops it.
 *
 *   node --import tsx bench/baselines/bare-uws.ts [port]
 */
import uWS, { type HttpResponse } from 'uWebSockets.js';

const HEALTH = '{"status":"ok"}';
const ANALYSIS = JSON.stringify({
  is_anomaly: false, normal_score: 0.9812, anomaly_score: 0.0188, events: ['fall', 'lying_still', 'flailing'],
  scores: [0.0188, 0.0021, 0.0007], thresholds: [0.5, 0.5, 0.5],
});
const ACCEPTED = '{"success":true,"event_id":"0123456789abcdef0123456789abcdef"}';

function send(res: HttpResponse, body: string): void {
  res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', 'application/json').end(body));
}

/** Reads the whole body (copied, as uWS frees each chunk after its callback), then answers. */
function afterBody(body: string) {
  return (res: HttpResponse) => {
    const parts: Buffer[] = [];
    let aborted = false;
    res.onAborted(() => (aborted = true));
    res.onData((chunk, isLast) => {
      parts.push(Buffer.from(new Uint8Array(chunk)));
      if (!isLast || aborted) return;
      Buffer.concat(parts); // the server too holds the body as one buffer before parsing it
      send(res, body);
    });
  };
}

const app = uWS.App()
  .get('/health', (res) => send(res, HEALTH))
  .post('/behavior/analyze', afterBody(ANALYSIS))
  .post('/event/payload', afterBody(ACCEPTED))
  .any('/*', (res) => {
    res.cork(() => res.writeStatus('404 Not Found').end('{"detail":"Not Found"}'));
  });

app.listen('127.0.0.1', Number(process.argv[2] ?? 0), (socket) => {
  if (!socket) {
    process.stderr.write('bare-uws: cannot listen\n');
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: uWS.us_socket_local_port(socket) })}\n`);
  process.once('SIGTERM', () => {
    uWS.us_listen_socket_close(socket);
    process.exit(0);
  });
});
