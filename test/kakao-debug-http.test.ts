/**
 * The Kakao debug endpoints on the process as `npm start` runs it, behind BACKEND_ADMIN_TOKEN:
 * both paths, 401 without the token, send-test's default and given text, and no secret in any
 * response or anywhere in the server's log output, refreshes and Kakao errors included.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { JsonClient, type JsonResponse } from '../src/agent/http-client.js';
import { waitFor } from './support/event-options.js';
import { metric } from './support/event-http.js';
import { KAKAO_ERRORS, KakaoStandin } from './support/kakao-standin.js';
import { spawnServer, tempDir, testEnv } from './support/server.js';

const ADMIN = 'admin-token-7f3a9c51e2';
const SECRET = 'client-secret-4be0d93a';
const DEFAULT_TEXT = 'Kakao memo test from backend /debug/kakao/send-test';
const PREFIXES = ['', '/event'];

t.test('debug endpoints behind BACKEND_ADMIN_TOKEN; no token in any response or log line', async (t) => {
  const kakao = await KakaoStandin.start({ clientId: 'rest-key-8c2d71fa', clientSecret: SECRET });
  t.teardown(() => kakao.close());
  const access = kakao.issueAccessToken();
  // 20 days left: the refresh below rotates it, so the new refresh token passes through the server too.
  const refresh = kakao.issueRefreshToken(20 * 86_400);
  const dir = tempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawnServer(testEnv(dir, {
    BACKEND_INFERENCE_WORKERS: '1',
    BACKEND_LOG_LEVEL: 'trace',
    BACKEND_ADMIN_TOKEN: ADMIN,
    KAKAO_ACCESS_TOKEN: access,
    KAKAO_REST_API_KEY: kakao.clientId,
    KAKAO_REFRESH_TOKEN: refresh,
    KAKAO_CLIENT_SECRET: SECRET,
    KAKAO_API_BASE_URL: kakao.url,
    KAKAO_AUTH_BASE_URL: kakao.url,
  }), dir);
  let exited = false;
  void child.exited.then(() => { exited = true; });
  t.teardown(() => { if (!exited) child.proc.kill('SIGKILL'); });
  const client = new JsonClient(`http://127.0.0.1:${await child.listening}`, 8);
  t.teardown(() => client.close());
  // A SIGTERM while the model loads can abort the process (onnxruntime): signal a started server only.
  await waitFor(async () => (await client.get('/ready')).status === 200, 'the server to be ready');
  const replies: JsonResponse[] = [];
  const keep = (reply: JsonResponse) => (replies.push(reply), reply);
  const admin = { authorization: `Bearer ${ADMIN}` };

  for (const prefix of PREFIXES) {
    const check = `${prefix}/debug/kakao/token-check`;
    const send = `${prefix}/debug/kakao/send-test`;
    const wrong: Array<Record<string, string>> = [{}, { authorization: 'Bearer not-the-token' }, { authorization: ADMIN }, { authorization: `Bearer ${ADMIN}x` }];
    for (const headers of wrong) {
      const what = JSON.stringify(headers);
      const denied = keep(await client.get(check, headers));
      t.equal(denied.status, 401, `${check} ${what} → 401`);
      t.match(denied.json, { detail: /BACKEND_ADMIN_TOKEN/ });
      t.equal(denied.headers['www-authenticate'], 'Bearer');
      t.equal(keep(await client.post(send, { text: 'must not be sent' }, headers)).status, 401, `${send} ${what} → 401`);
    }
    const checked = keep(await client.get(check, admin));
    t.equal(checked.status, 200);
    t.match(checked.json, { ok: true, response: { id: 4242 }, token: { source: String } }, `${check} with the token`);
  }
  t.equal(kakao.requestsTo('memo').length, 0, 'a refused send-test sends nothing');

  const sent: string[] = [];
  for (const prefix of PREFIXES) {
    const send = `${prefix}/debug/kakao/send-test`;
    for (const [body, text] of [['', DEFAULT_TEXT], [{}, DEFAULT_TEXT], [{ text: null }, DEFAULT_TEXT], [{ text: `점검 메시지 ${prefix || '/'}` }, `점검 메시지 ${prefix || '/'}`]] as const) {
      const reply = keep(await client.post(send, body, admin));
      t.same([reply.status, reply.json], [200, { ok: true, response: { result_code: 0 } }], `${send} ${JSON.stringify(body)}`);
      sent.push(text);
    }
    t.equal(keep(await client.post(send, { text: 5 }, admin)).status, 422, 'text must be a string');
  }
  t.same(kakao.deliveredMemos(), sent, 'the default text without one, else the text given');

  // A refresh (with a rotated refresh token) and Kakao errors, so those code paths log too.
  kakao.script('memo', { status: 401, body: { code: -401, msg: 'this access token is already expired' } });
  t.match(keep(await client.post('/debug/kakao/send-test', { text: 'after refresh' }, admin)).json, { ok: true });
  t.same(kakao.requestsTo('oauth')[0]!.form, { grant_type: 'refresh_token', client_id: kakao.clientId, refresh_token: refresh, client_secret: SECRET });
  kakao.script('me', KAKAO_ERRORS.consent);
  t.match(keep(await client.get('/event/debug/kakao/token-check', admin)).json, { ok: false, err: 'kakao -402: insufficient scopes.' });
  kakao.script('memo', KAKAO_ERRORS.quota);
  t.equal(keep(await client.post('/event/payload', { type: 'END', event: 'fall' })).status, 200);
  await waitFor(async () => (await metric(client, 'kakao_alerts_undelivered_total', { reason: 'quota' })) === 1, 'the quota error');
  keep(await client.get('/metrics'));
  keep(await client.get('/ready'));
  child.proc.kill('SIGTERM');
  t.equal(await child.exited, 0);

  const saved = JSON.parse(readFileSync(join(dir, 'kakao-token.json'), 'utf8')) as { access_token: string; refresh_token: string };
  t.not(saved.refresh_token, refresh, 'the refresh token was rotated');
  const secrets = { ADMIN, SECRET, access, refresh, restApiKey: kakao.clientId, newAccess: saved.access_token, newRefresh: saved.refresh_token };
  const responses = replies.map((r) => `${JSON.stringify(r.headers)}\n${r.text}`).join('\n');
  const output = `${child.stdout()}\n${child.stderr()}`;
  t.match(output, /Kakao access token refreshed/, 'the log output covers the refresh');
  for (const [name, secret] of Object.entries(secrets)) {
    t.notOk(responses.includes(secret), `${name} appears in no response`);
    t.notOk(output.includes(secret), `${name} appears nowhere in the server's output`);
  }
});
