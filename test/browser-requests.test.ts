/**
 * What a web page can make the server do. JSON routes take only JSON bodies (text/plain and forms
 * cross sites without a preflight), so 415 for anything else; no Content-Type stays accepted for
 * the agents, but not from a browser. The Kakao debug endpoints send no CORS headers and refuse
 * requests from another origin; BACKEND_CORS_ORIGINS governs the other routes and the WebSocket.
 */
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { JsonClient } from '../src/agent/http-client.js';
import { logLines } from './support/event-http.js';
import { KakaoStandin } from './support/kakao-standin.js';
import { rawRequest, statuses } from './support/raw-http.js';
import { startTestServer, type TestServer } from './support/server.js';

const UNSUPPORTED = { detail: 'Unsupported Media Type: expected application/json' };
const CROSS_SITE = { detail: 'this endpoint does not serve requests from web pages of another origin' };
const PAGE = 'http://page.example';

async function server(t: Test, env: Record<string, string> = {}): Promise<TestServer & { client: JsonClient }> {
  const running = await startTestServer(t, { BACKEND_INFERENCE_WORKERS: '1', ...env });
  const client = new JsonClient(running.url, 4);
  t.teardown(() => client.close());
  return { ...running, client };
}

/** POST with exactly these header lines (the JSON client always adds a Content-Type). */
function rawPost(port: number, path: string, body: string, headers: string[]): Promise<string> {
  const head = [`POST ${path} HTTP/1.1`, 'Host: localhost', `Content-Length: ${Buffer.byteLength(body)}`, ...headers, '', body].join('\r\n');
  return rawRequest(port, head, (text) => statuses(text).length === 1 && text.includes('}')).then((reply) => reply.text);
}

/** Opens a WebSocket on /behavior/stream with these headers: 101, or the status it was refused with. */
function openStream(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/behavior/stream`, { headers });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

t.test('BACKEND_CORS_ORIGINS: named origins may read the agent routes; the WebSocket checks Origin too', async (t) => {
  const { client, url } = await server(t, { BACKEND_CORS_ORIGINS: `${PAGE}, http://other.example` });
  const allowed = await client.get('/event/recent', { origin: PAGE });
  t.equal(allowed.headers['access-control-allow-origin'], PAGE);
  t.equal(allowed.headers.vary, 'Origin');
  t.equal((await client.get('/event/recent', { origin: 'http://evil.example' })).headers['access-control-allow-origin'], undefined);

  t.equal(await openStream(url, {}), 101, 'no Origin: an agent, allowed');
  t.equal(await openStream(url, { origin: PAGE }), 101, 'a listed origin');
  t.equal(await openStream(url, { origin: 'http://evil.example' }), 403, 'any other page is refused');
});

// The settings' defaults, Kakao pointed at the stand-in: the first test alone writes events, and
// no test sends a memo.
t.test('one server with BACKEND_CORS_ORIGINS=* (the default)', async (t) => {
  const kakao = await KakaoStandin.start();
  t.teardown(() => kakao.close());
  const { client, port, url, config } = await server(t, { KAKAO_API_BASE_URL: kakao.url, KAKAO_AUTH_BASE_URL: kakao.url, KAKAO_ACCESS_TOKEN: kakao.issueAccessToken() });

  t.test('JSON routes take JSON: 415 for other bodies, before anything is written', async (t) => {
    const event = { type: 'HEARTBEAT', session_id: 'typed' };
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp', 'json']) {
      const res = await client.post('/event/payload', event, { 'content-type': type });
      t.equal(res.status, 415, type);
      t.same(res.json, UNSUPPORTED);
    }
    for (const path of ['/behavior/analyze', '/event', '/echo', '/debug/kakao/send-test']) {
      t.equal((await client.post(path, {}, { 'content-type': 'text/plain' })).status, 415, `${path} too`);
    }
    for (const type of ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/vnd.camera.event+json']) {
      t.equal((await client.post('/event/payload', event, { 'content-type': type })).status, 200, type);
    }
    t.match(await rawPost(port, '/event/payload', JSON.stringify(event), []), /^HTTP\/1\.1 200 /, 'no Content-Type: read as JSON, as the old backend did');
    t.match(await rawPost(port, '/event/payload', JSON.stringify(event), [`Origin: ${PAGE}`]), /^HTTP\/1\.1 415 /, '…but not from a browser');
    t.equal(logLines(config.events.logPath!).length, 5, 'only the JSON bodies were written');
  });

  t.test('the Kakao debug endpoints: no CORS headers, nothing for other origins', async (t) => {
    const self = `http://127.0.0.1:${port}`; // the Host the client sends

    for (const prefix of ['', '/event']) {
      const check = `${prefix}/debug/kakao/token-check`;
      const send = `${prefix}/debug/kakao/send-test`;
      const plain = await client.get(check);
      t.equal(plain.status, 200, `${check} from curl`);
      t.equal(plain.headers['access-control-allow-origin'], undefined, `${check}: no CORS header even with BACKEND_CORS_ORIGINS=*`);

      const foreign: Record<string, string>[] = [{ origin: PAGE }, { origin: 'null' }, { origin: `http://127.0.0.1:${port + 1}` }, { 'sec-fetch-site': 'cross-site' }];
      for (const headers of foreign) {
        const read = await client.get(check, headers);
        t.equal(read.status, 403, `${check} ${JSON.stringify(headers)}`);
        t.same(read.json, CROSS_SITE);
        t.equal(read.headers['access-control-allow-origin'], undefined);
        t.equal((await client.post(send, { text: 'forged' }, headers)).status, 403, `${send} ${JSON.stringify(headers)}`);
      }
      t.equal((await client.get(check, { origin: self, 'sec-fetch-site': 'same-origin' })).status, 200, 'a page of the server itself may');

      const preflight = await rawRequest(port, `OPTIONS ${send} HTTP/1.1\r\nHost: localhost\r\nOrigin: ${PAGE}\r\nAccess-Control-Request-Method: POST\r\n\r\n`, (text) => text.includes('\r\n\r\n'));
      t.match(preflight.text, /^HTTP\/1\.1 204 /);
      t.notMatch(preflight.text, /access-control-/i, `${send}: the preflight grants nothing`);
    }
    t.same(kakao.deliveredMemos(), [], 'no memo was sent');
  });

  t.test('BACKEND_CORS_ORIGINS=* (the default): any page may open a stream', async (t) => {
    t.equal(await openStream(url, { origin: 'http://evil.example' }), 101);
    t.equal((await client.get('/event/recent', { origin: PAGE })).headers['access-control-allow-origin'], '*');
  });
});
