/**
 * Kakao alerts driven over HTTP on the real server (in this process) against the local Kakao
 * stand-in, one test per scenario, scenarios without settings of their own sharing a server: the
 * exact memo for a posted END, -401 → refresh → retry with the rotated token saved and used after
 * a restart, KOE322, the quota pause, a Kakao that is slow or down never holding back an
 * acknowledgement, a memo being retried never holding back the next one, and stale memos dropped
 * after an outage. The policy's details, on a fake clock: kakao-alerts.test.ts and
 * kakao-tokens.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { JsonClient } from '../src/agent/http-client.js';
import { SEND_SLOTS } from '../workers/writer/kakao-alerts.js';
import { waitFor } from './support/event-options.js';
import { closedPort, inParallel, localStampsBetween, metric } from './support/event-http.js';
import { KAKAO_ERRORS, KakaoStandin } from './support/kakao-standin.js';
import { startTestServer, type TestServer } from './support/server.js';

const DEFAULT_BUTTON = '확인하러 가기';
const END = { type: 'END', ts: 1764405347.2, frame_idx: 1234, event: 'fall', prob: 0.91, duration_sec: 5.45, state: null, top_event: null, top_prob: null, probs: null };
const MEMO_HEAD = '[이상행동탐지] 최종 이벤트 알림\n- 최종 이벤트 : 낙상 (fall)\n- 지속시간 : 00:00:05 (5.5s)\n- 영상 시간 : 2025-11-29 17:35:47 (1764405347.20s)\n- 프레임 : 1234\n- 수신시각 : ';

async function standin(t: Test): Promise<KakaoStandin> {
  const s = await KakaoStandin.start();
  t.teardown(() => s.close());
  return s;
}

/** The server with Kakao pointed at the stand-in, and a client for it. */
async function kakaoServer(t: Test, kakao: KakaoStandin, env: Record<string, string>): Promise<TestServer & { client: JsonClient }> {
  const server = await startTestServer(t, { BACKEND_INFERENCE_WORKERS: '1', KAKAO_API_BASE_URL: kakao.url, KAKAO_AUTH_BASE_URL: kakao.url, ...env });
  const client = new JsonClient(server.url, 16);
  t.teardown(() => client.close());
  return { ...server, client };
}

const endFor = (session: string, frame = END.frame_idx) => ({ ...END, session_id: session, frame_idx: frame });
/** The frame printed on each memo Kakao received, in arrival order. */
const memoFrames = (kakao: KakaoStandin, delivered = false) =>
  kakao.requestsTo('memo').filter((r) => !delivered || r.status === 200).map((r) => Number(/- 프레임 : (\d+)/.exec(String(r.template?.text))?.[1]));
const sendsTotal = async (client: JsonClient) =>
  (await Promise.all(['ok', 'unauthorized', 'transient', 'quota', 'rejected', 'forbidden', 'bad_request'].map((outcome) => metric(client, 'kakao_memo_sends_total', { outcome })))).reduce((a, b) => a + b, 0);

// The stand-in is reset before each scenario; the sessions, the memos and the counters a scenario
// reads are its own, each ending with every memo settled.
t.test('one server with an access token: scenario after scenario, the quota pause last', async (t) => {
  const kakao = await standin(t);
  const token = kakao.issueAccessToken();
  // A long timeout: a memo Kakao holds cannot settle by timing out while its scenario posts events.
  const { client } = await kakaoServer(t, kakao, { KAKAO_ACCESS_TOKEN: token, KAKAO_TIMEOUT_MS: '120000' });
  t.beforeEach(() => kakao.reset());

  t.test('an END posted over HTTP sends the seed memo: form-encoded, Bearer token, link {} and the default button', async (t) => {
    // None of these is an END from an agent: no memo.
    for (const type of ['START', 'PROBS', 'HEARTBEAT']) t.equal((await client.post('/event/payload', { ...END, type })).status, 200);
    t.equal((await client.post('/event', { event: { timestamp: '2026-11-29T08:35:47Z', event_type: 'END', data: END } })).status, 200);

    const before = Date.now();
    t.equal((await client.post('/event/payload', END)).status, 200);
    const after = Date.now();
    await waitFor(() => kakao.deliveredMemos().length === 1, 'the memo');
    const memos = kakao.requestsTo('memo');
    t.equal(memos.length, 1, 'only the END sent a memo');
    const memo = memos[0]!;
    const text = String(memo.template?.text);
    t.ok(localStampsBetween(before, after).some((stamp) => text === MEMO_HEAD + stamp), `the seed's lines, the bundled model's label, times in Seoul:\n${text}`);
    t.equal(memo.method, 'POST');
    t.equal(memo.path, '/v2/api/talk/memo/default/send');
    t.equal(memo.token, token, 'Authorization: Bearer <KAKAO_ACCESS_TOKEN>');
    t.match(memo.contentType, /^application\/x-www-form-urlencoded/);
    t.same(Object.keys(memo.form!), ['template_object'], 'one form field');
    t.equal(memo.form!.template_object, JSON.stringify({ object_type: 'text', text, link: {}, button_title: DEFAULT_BUTTON }), 'the template, keys in the seed\'s order');

    // Without BACKEND_ADMIN_TOKEN the debug endpoints are open.
    t.match((await client.get('/debug/kakao/token-check')).json, { ok: true, response: { id: 4242 } });
    t.match((await client.post('/event/debug/kakao/send-test', '')).json, { ok: true, response: { result_code: 0 } });
    t.equal(kakao.deliveredMemos()[1], 'Kakao memo test from backend /debug/kakao/send-test');
  });

  t.test('a memo being retried against a failing, then slow Kakao does not hold back the next END\'s memo', async (t) => {
    // The first memo is answered 503; after that Kakao answers nothing until released.
    kakao.script('memo', KAKAO_ERRORS.unavailable);
    const release = kakao.hold('memo');
    t.teardown(release);
    t.equal((await client.post('/event/payload', endFor('cam-1', 1))).status, 200);
    await waitFor(() => kakao.requestsTo('memo')[0]?.status === 503, 'the first memo to fail');
    t.equal((await client.post('/event/payload', endFor('cam-2', 2))).status, 200);
    await waitFor(() => memoFrames(kakao).includes(2), 'the second END\'s memo to reach Kakao');
    t.same(memoFrames(kakao, true), [], 'while the first memo is still undelivered');
    await waitFor(() => memoFrames(kakao).filter((f) => f === 1).length === 2, 'the first memo\'s retry');
    release();
    await waitFor(() => kakao.deliveredMemos().length === 2, 'both memos once Kakao answers');
    t.same(memoFrames(kakao, true).sort(), [1, 2]);
  });

  t.test('Kakao holding every memo never holds back /event/payload', async (t) => {
    const release = kakao.hold('memo');
    t.teardown(release);
    const sendsBefore = await sendsTotal(client);
    t.equal((await client.post('/event/payload', endFor('cam-0'))).status, 200);
    await waitFor(() => kakao.requestsTo('memo').length === 1, 'the first memo to reach Kakao');
    const bodies = Array.from({ length: 80 }, (_, i) => (i % 2 ? endFor(`cam-${i}`) : { type: 'PROBS', top_event: 'fall', top_prob: 0.5 }));
    const replies = await inParallel(bodies, 16, (body) => client.post('/event/payload', body));
    t.same(replies.filter((r) => r.status !== 200), [], 'every event acknowledged');
    t.equal(kakao.requestsTo('memo')[0]!.status, null, 'all acknowledged before Kakao answered the first memo');
    await waitFor(() => kakao.requestsTo('memo').length === SEND_SLOTS, 'a memo in every send slot');
    t.ok(kakao.requestsTo('memo').every((r) => r.status === null), 'none answered');
    t.equal(await sendsTotal(client), sendsBefore, 'no memo attempt had finished when the last 200 arrived');
    release();
    await waitFor(() => kakao.deliveredMemos().length === 41, 'every memo once Kakao answers');
  });

  t.test('a quota answer pauses memos: later ENDs are not sent and are counted as undelivered', async (t) => {
    kakao.script('memo', KAKAO_ERRORS.quota);
    t.equal((await client.post('/event/payload', endFor('cam-1'))).status, 200);
    await waitFor(async () => (await metric(client, 'kakao_alerts_undelivered_total', { reason: 'quota' })) === 1, 'the quota answer');
    for (const session of ['cam-2', 'cam-3', 'cam-4']) t.equal((await client.post('/event/payload', endFor(session))).status, 200);
    await waitFor(async () => (await metric(client, 'kakao_alerts_undelivered_total', { reason: 'quota_paused' })) === 3, 'the paused alerts counted');
    t.equal(kakao.requestsTo('memo').length, 1, 'Kakao received nothing after the quota answer');
    t.equal(await metric(client, 'kakao_memo_sends_total', { outcome: 'quota' }), 1);
  });
});

t.test('one server with ALERT_LINK_URL and KAKAO_ALERT_MAX_AGE_SEC=2', async (t) => {
  const kakao = await standin(t);
  const link = 'https://cam.example/live?cam=1';
  const { client } = await kakaoServer(t, kakao, { KAKAO_ACCESS_TOKEN: kakao.issueAccessToken(), ALERT_LINK_URL: link, KAKAO_TIMEOUT_MS: '120000', KAKAO_ALERT_MAX_AGE_SEC: '2' });
  t.beforeEach(() => kakao.reset());

  t.test('ALERT_LINK_URL gives the button its link; absent values drop their lines', async (t) => {
    const before = Date.now();
    t.equal((await client.post('/event/payload', { type: 'END', ts: 12.5 })).status, 200);
    const after = Date.now();
    await waitFor(() => kakao.deliveredMemos().length === 1, 'the memo');
    const template = kakao.requestsTo('memo')[0]!.template!;
    const texts = localStampsBetween(before, after).map((stamp) => `[이상행동탐지] 최종 이벤트 알림\n- 최종 이벤트 : -\n- 영상 시간 : 00:00:12 (12.50s)\n- 수신시각 : ${stamp}`);
    t.ok(texts.includes(String(template.text)), `no event → "-"; no duration or frame → no line:\n${template.text}`);
    t.same(template, { object_type: 'text', text: template.text, link: { web_url: link, mobile_web_url: link }, button_title: DEFAULT_BUTTON });
  });

  t.test('after an outage, memos older than KAKAO_ALERT_MAX_AGE_SEC are dropped as stale and the fresh ones go out', async (t) => {
    const release = kakao.hold('memo');
    t.teardown(release);
    for (let frame = 1; frame <= SEND_SLOTS; frame++) t.equal((await client.post('/event/payload', endFor(`cam-${frame}`, frame))).status, 200);
    await waitFor(() => kakao.requestsTo('memo').length === SEND_SLOTS, 'Kakao to hold a memo in every send slot');
    const queuedAt = Date.now();
    for (const frame of [11, 12, 13]) t.equal((await client.post('/event/payload', endFor(`cam-${frame}`, frame))).status, 200);
    // Age is time: these three must wait longer than the max age behind the held memos.
    await waitFor(() => Date.now() - queuedAt > 2_100, 'the queued memos to pass the max age');
    t.equal((await client.post('/event/payload', endFor('cam-21', 21))).status, 200);
    release();
    await waitFor(() => kakao.deliveredMemos().length === SEND_SLOTS + 1, 'the held memos and the fresh one');
    await waitFor(async () => (await metric(client, 'kakao_alerts_undelivered_total', { reason: 'stale' })) === 3, 'the stale memos counted');
    t.same(memoFrames(kakao, true).sort((a, b) => a - b), [1, 2, 3, 4, 21], 'the stale memos never reached Kakao');
    t.equal(kakao.requestsTo('memo').length, SEND_SLOTS + 1);
  });
});

t.test('BACKEND_PUBLIC_URL: the button opens the event\'s page; the memo names the camera, by label, in ALERT_TIMEZONE', async (t) => {
  const kakao = await standin(t);
  const server = await kakaoServer(t, kakao, { KAKAO_ACCESS_TOKEN: kakao.issueAccessToken(), BACKEND_PUBLIC_URL: 'https://watch.example/', ALERT_TIMEZONE: 'UTC' });
  const answer = await server.client.post('/event/payload', { ...endFor('cam-door'), event: 'lying_still' });
  t.equal(answer.status, 200);
  const eventId = (answer.json as { event_id: string }).event_id;
  await waitFor(() => kakao.deliveredMemos().length === 1, 'the memo');
  const template = kakao.requestsTo('memo')[0]!.template!;
  const page = `https://watch.example/watch/events/${eventId}`;
  t.same(template.link, { web_url: page, mobile_web_url: page }, 'the button opens /watch/events/{event_id}');
  t.match(String(template.text), /^\[이상행동탐지\] 최종 이벤트 알림\n- 최종 이벤트 : 쓰러진 채 움직임 없음 \(lying_still\)\n- 카메라 : cam-door\n/);
  t.match(String(template.text), /- 영상 시간 : 2025-11-29 08:35:47 \(1764405347.20s\)\n- 프레임 : 1234\n- 수신시각 : \d{4}-\d\d-\d\d \/ \d\d:\d\d:\d\d UTC$/, 'ALERT_TIMEZONE=UTC');
});

t.test('-401 → refresh → retry over HTTP; the rotated refresh token is saved and used after a restart', async (t) => {
  const kakao = await standin(t);
  const dir = mkdtempSync(join(tmpdir(), 'kakao-refresh-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'kakao-token.json');
  // 20 days left: Kakao rotates it on use and the old one stops working.
  const envRefresh = kakao.issueRefreshToken(20 * 86_400);
  const env = { KAKAO_ACCESS_TOKEN: kakao.issueAccessToken(), KAKAO_REST_API_KEY: kakao.clientId, KAKAO_REFRESH_TOKEN: envRefresh, KAKAO_TOKEN_FILE: tokenFile };
  const first = await kakaoServer(t, kakao, env);
  kakao.script('memo', { status: 401, body: { code: -401, msg: 'this access token is already expired' } });
  t.equal((await first.client.post('/event/payload', endFor('cam-1'))).status, 200);
  await waitFor(() => kakao.deliveredMemos().length === 1, 'the memo after the refresh');
  const [rejected, retried] = kakao.requestsTo('memo');
  t.equal(kakao.requestsTo('oauth').length, 1, 'one refresh');
  t.same(kakao.requestsTo('oauth')[0]!.form, { grant_type: 'refresh_token', client_id: kakao.clientId, refresh_token: envRefresh });
  t.not(retried!.token, rejected!.token, 'the retry carries the new access token');
  await waitFor(async () => (await metric(first.client, 'kakao_token_refreshes_total', { outcome: 'ok' })) === 1, 'the refresh counted');
  const saved = JSON.parse(readFileSync(tokenFile, 'utf8')) as { access_token: string; refresh_token: string };
  t.equal(saved.access_token, retried!.token);
  t.not(saved.refresh_token, envRefresh);
  t.ok(kakao.refreshTokenValid(saved.refresh_token), 'KAKAO_TOKEN_FILE holds the new, valid refresh token');
  t.notOk(kakao.refreshTokenValid(envRefresh), 'the environment\'s refresh token is dead now');
  await first.server.shutdown();

  // Same environment (its refresh token now dead): the saved tokens take over.
  const second = await kakaoServer(t, kakao, env);
  t.equal((await second.client.post('/event/payload', endFor('cam-2'))).status, 200);
  await waitFor(() => kakao.deliveredMemos().length === 2, 'a memo after the restart');
  t.equal(kakao.requestsTo('memo').at(-1)!.token, saved.access_token, 'the saved access token is used');
  kakao.expireAccessToken(saved.access_token);
  t.equal((await second.client.post('/event/payload', endFor('cam-3'))).status, 200);
  await waitFor(() => kakao.deliveredMemos().length === 3, 'a memo after the saved access token expired');
  t.equal(kakao.requestsTo('oauth').at(-1)!.form!.refresh_token, saved.refresh_token, 'the refresh used the saved refresh token');
  t.match((await second.client.get('/debug/kakao/token-check')).json, { ok: true, token: { source: 'file', refresh_token_state: 'valid' } });
});

t.test('KOE322: token-check reports the refresh token invalid and /metrics counts it', async (t) => {
  const kakao = await standin(t);
  const { client } = await kakaoServer(t, kakao, { KAKAO_ACCESS_TOKEN: 'access-stale', KAKAO_REST_API_KEY: kakao.clientId, KAKAO_REFRESH_TOKEN: 'refresh-expired-long-ago' });
  // At start the stale access token is refused, and the refresh answers KOE322.
  await waitFor(async () => (await metric(client, 'kakao_token_refreshes_total', { outcome: 'invalid_grant' })) === 1, 'the failed refresh counted');
  for (const path of ['/debug/kakao/token-check', '/event/debug/kakao/token-check']) {
    const check = await client.get(path);
    t.equal(check.status, 200);
    t.match(check.json, { ok: false, err: /-401/, token: { refresh_token_state: 'invalid', last_refresh_error: /KOE322/ } }, path);
  }
  t.equal((await client.post('/event/payload', endFor('cam-1'))).status, 200, 'the event is still acknowledged');
  await waitFor(async () => (await metric(client, 'kakao_alerts_undelivered_total', { reason: 'refresh_token_invalid' })) === 1, 'the alert counted as undelivered');
  t.equal(kakao.requestsTo('oauth').length, 1, 'no second refresh with a dead token');
});

t.test('Kakao unreachable: END posts are acknowledged while their alerts are still being retried', async (t) => {
  const port = await closedPort();
  const { client } = await startTestServer(t, { BACKEND_INFERENCE_WORKERS: '1', KAKAO_ACCESS_TOKEN: 'access-anything', KAKAO_API_BASE_URL: `http://127.0.0.1:${port}`, KAKAO_TIMEOUT_MS: '1000' })
    .then((s) => ({ client: new JsonClient(s.url, 8) }));
  t.teardown(() => client.close());
  const replies = await inParallel(Array.from({ length: 20 }, (_, i) => endFor(`cam-${i}`)), 8, (body) => client.post('/event/payload', body));
  t.same(replies.map((r) => r.status), Array(20).fill(200));
  // Each alert is retried with back-off (at least 1.75 s in all) before it is given up: had the
  // acks waited for Kakao, all 20 would be settled by now.
  const settled = await metric(client, 'kakao_alerts_undelivered_total', { reason: 'transient' });
  t.ok(settled < 20, `acknowledged with alerts still pending (${settled} of 20 given up)`);
  await waitFor(async () => (await metric(client, 'kakao_memo_sends_total', { outcome: 'transient' })) >= 2, 'attempts failing');
  t.equal((await client.get('/health')).status, 200);
});
