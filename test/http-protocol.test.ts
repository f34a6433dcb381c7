/**
 * HTTP/1.1 at the byte level, on raw sockets against the real server: framing headers that could
 * smuggle a request are refused 400 and the connection closed; what uWebSockets.js's parser
 * refuses before any JavaScript runs (HTTP/1.0, no Host, malformed heads, too many headers) is
 * pinned as it is — never answered, nothing behind it served, the socket freed by the idle timeout
 * — and health probes that work; GET /behavior/stream without an upgrade is 426.
 */
import t from 'tap';
import { JsonClient } from '../src/agent/http-client.js';
import { logLines } from './support/event-http.js';
import { postJson, rawRequest, statuses } from './support/raw-http.js';
import { startTestServer } from './support/server.js';

const server = await startTestServer(t, { BACKEND_INFERENCE_WORKERS: '1' });

/** A client of its own: a pooled connection left idle past uWS's 10 s timeout would be closed under it. */
async function withClient<T>(use: (client: JsonClient) => Promise<T>): Promise<T> {
  const client = new JsonClient(server.url, 1);
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

/** A request that, if it were ever served, would leave a line with this session in the log. */
const behind = (session: string) => postJson('/event/payload', { type: 'HEARTBEAT', session_id: session });
const HEALTH = 'GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n';
/** An event write whose framing headers are `framing` (lines), its body `body`. */
const framed = (framing: string[], body: string) => ['POST /event/payload HTTP/1.1', 'Host: localhost', 'Content-Type: application/json', ...framing, '', body].join('\r\n');
const EVENT = JSON.stringify({ type: 'HEARTBEAT', session_id: 'front' });

/** Sessions in the log; a last write acknowledged first, so every line accepted before it is on disk. */
async function loggedSessions(): Promise<string[]> {
  const sentinel = await withClient((client) => client.post('/event/payload', { type: 'HEARTBEAT', session_id: 'sentinel' }));
  t.equal(sentinel.status, 200);
  return logLines(server.config.events.logPath!).map((line) => JSON.parse(line).session_id as string);
}

const badRequest = (problem: string) => JSON.stringify({ detail: `Bad Request: ${problem}` });

t.test('framing that could smuggle a request: 400 and the connection closed', async (t) => {
  const cases: [string, string[], string][] = [
    ['two Content-Lengths', [`Content-Length: ${EVENT.length}`, `Content-Length: ${EVENT.length}`], 'more than one Content-Length'],
    ['an empty Content-Length before a real one', ['Content-Length: ', `Content-Length: ${EVENT.length}`], 'more than one Content-Length'],
    // uWS would read it as 0 and the body as the next request.
    ['an empty Content-Length', ['Content-Length: '], 'Content-Length is not a number'],
    ['Transfer-Encoding: xchunked', ['Transfer-Encoding: xchunked'], 'Transfer-Encoding other than chunked'],
    ['Transfer-Encoding: gzip, chunked', ['Transfer-Encoding: gzip, chunked'], 'Transfer-Encoding other than chunked'],
    ['two Transfer-Encodings', ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], 'more than one Transfer-Encoding'],
  ];
  for (const [name, framing, problem] of cases) {
    const body = framing.some((h) => h.startsWith('Transfer-Encoding')) ? `${EVENT.length.toString(16)}\r\n${EVENT}\r\n0\r\n\r\n` : EVENT;
    const reply = await rawRequest(server.port, framed(framing, body));
    t.ok(reply.closed, `${name}: connection closed`);
    t.match(reply.text, /^HTTP\/1\.1 400 Bad Request\r\n/, `${name}: 400`);
    t.ok(reply.text.endsWith(`\r\n\r\n${badRequest(problem)}`), `${name}: says why`);
    t.equal(statuses(reply.text).length, 1, `${name}: one answer`);
  }
  t.notOk((await loggedSessions()).includes('front'), 'none of them was written');
});

t.test('Transfer-Encoding: chunked, in any case, is read as usual', async (t) => {
  const reply = await rawRequest(server.port, framed(['Transfer-Encoding: Chunked'], `${EVENT.length.toString(16)}\r\n${EVENT}\r\n0\r\n\r\n`), (text) => text.includes('}'));
  t.same(statuses(reply.text), [200]);
});

t.test('nothing pipelined behind bad framing is served', async (t) => {
  const smuggles: [string, string][] = [
    // A proxy honouring the second length would take the request behind as this one's body.
    ['two Content-Lengths', framed(['Content-Length: 0', `Content-Length: ${behind('smuggled-1').length}`], '') + behind('smuggled-1')],
    ['an empty Content-Length', framed(['Content-Length: ', `Content-Length: ${behind('smuggled-2').length}`], '') + behind('smuggled-2')],
    ['xchunked', framed(['Transfer-Encoding: xchunked'], '0\r\n\r\n') + behind('smuggled-3')],
    // uWebSockets.js itself closes on these two before any JavaScript runs.
    ['Content-Length and Transfer-Encoding', framed(['Content-Length: 5', 'Transfer-Encoding: chunked'], '0\r\n\r\n') + behind('smuggled-4')],
    ['a Content-Length that is not a number', framed(['Content-Length: 3x'], '') + behind('smuggled-5')],
  ];
  for (const [name, bytes] of smuggles) {
    const reply = await rawRequest(server.port, bytes);
    t.ok(reply.closed, `${name}: connection closed`);
    t.same(statuses(reply.text).filter((s) => s !== 400), [], `${name}: no answer but a 400`);
  }
  const sessions = await loggedSessions();
  t.same(sessions.filter((s) => s.startsWith('smuggled')), [], 'no request behind them was served');
});

t.test('what uWebSockets.js refuses before JavaScript: never answered, nothing behind served, freed by the idle timeout', async (t) => {
  const headers = (n: number) => Array.from({ length: n }, (_, i) => `X-Header-${i}: v`).join('\r\n');
  const refused: [string, string][] = [
    ['HTTP/1.0', 'GET /health HTTP/1.0\r\n\r\n'],
    ['HTTP/1.0 with a Host', 'GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n'],
    ['HTTP/1.1 without a Host', 'GET /health HTTP/1.1\r\n\r\n'],
    ['a malformed request line', 'GARBAGE\r\n\r\n'],
    ['an unknown version', 'GET /health HTTP/9.9\r\nHost: localhost\r\n\r\n'],
    ['LF-only line ends', 'GET /health HTTP/1.1\nHost: localhost\n\n'],
    ['49 headers', `GET /health HTTP/1.1\r\nHost: localhost\r\n${headers(48)}\r\n\r\n`],
  ];
  const replies = await Promise.all(refused.map(([name, head], i) => rawRequest(server.port, head + behind(`held-${i}`)).then((reply) => ({ name, reply }))));
  for (const { name, reply } of replies) {
    t.equal(reply.text, '', `${name}: no answer`);
    t.ok(reply.closed, `${name}: closed by the server`);
    // uWS's HTTP idle timeout is 10 s, checked every 4 s.
    t.ok(reply.ms > 4_000 && reply.ms < 20_000, `${name}: after the idle timeout (${Math.round(reply.ms)} ms)`);
  }
  t.same((await loggedSessions()).filter((s) => s.startsWith('held')), [], 'no request behind them was served');
});

t.test('limits that close at once: a head over 4 KiB in pieces, bytes after a refused head', async (t) => {
  const pieces = ['GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ', ...Array.from({ length: 8 }, () => 'a'.repeat(1024))];
  const big = await rawRequest(server.port, pieces);
  t.ok(big.closed && big.text === '' && big.ms < 4_000, 'a head that outgrows the 4 KiB buffer closes the connection unanswered');

  const flood = await rawRequest(server.port, ['GARBAGE\r\n\r\n', 'x'.repeat(64 * 1024)]);
  t.ok(flood.closed && flood.text === '' && flood.ms < 4_000, 'what follows a refused head is not buffered: closed at once');
});

t.test('health probes: HTTP/1.1 with a Host is answered, with or without keep-alive', async (t) => {
  const close = await rawRequest(server.port, 'GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  t.ok(close.closed, 'Connection: close is honoured');
  t.same(statuses(close.text), [200]);
  t.ok(close.text.endsWith('{"status":"ok"}'));

  const kept = await rawRequest(server.port, HEALTH + HEALTH, (text) => statuses(text).length === 2);
  t.same(statuses(kept.text), [200, 200], 'keep-alive, pipelined synchronous answers');
  t.notOk(kept.closed);
});

t.test('GET /behavior/stream without an upgrade: 426 with Upgrade: websocket', (t) => withClient(async (client) => {
  const res = await client.get('/behavior/stream');
  t.equal(res.status, 426);
  t.equal(res.headers.upgrade, 'websocket');
  t.same(res.json, { detail: 'Upgrade Required: open a WebSocket on this path' });
  t.equal((await client.post('/behavior/stream', {})).status, 404, 'other methods are still unknown');
}));

t.test('the server is still healthy', (t) => withClient(async (client) => {
  t.equal((await client.get('/health')).status, 200);
  t.equal((await client.post('/event/payload', { type: 'HEARTBEAT', session_id: 'after' })).status, 200);
}));
