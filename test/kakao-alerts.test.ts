/**
 * Kakao alerts through EventLog, the real writer thread and the local Kakao stand-in: the exact
 * memo, the 200-character cut, refresh on -401 with the rotated token saved, KOE322, quota pause,
 * back-off on transient errors, permanent errors, cooldown, and a slow Kakao that never holds an ack.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import type { KakaoConfig } from '../src/config.js';
import { EventLog } from '../src/events/event-log.js';
import { pythonFixed } from '../src/events/python-format.js';
import { recordFromPayload } from '../src/events/records.js';
import { createMetrics, type Metrics } from '../src/metrics.js';
import { cutMemo, memoText } from '../workers/writer/memo.js';
import { eventOptions, metricValue, waitFor } from './support/event-options.js';
import { KAKAO_ERRORS, KakaoStandin } from './support/kakao-standin.js';

const silent = pino({ level: 'silent' });
const root = mkdtempSync(join(tmpdir(), 'kakao-alerts-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

interface Rig { log: EventLog; standin: KakaoStandin; metrics: Metrics; dir: string }

/** A stand-in and an EventLog pointed at it; both closed when the test ends. */
async function rig(t: Test, kakao: (s: KakaoStandin) => Partial<KakaoConfig>, standinOptions = {}): Promise<Rig> {
  const dir = join(root, `case-${dirs++}`);
  mkdirSync(dir);
  const standin = await KakaoStandin.start(standinOptions);
  const metrics = createMetrics();
  const log = await EventLog.open(eventOptions(dir, { kakao: { apiBaseUrl: standin.url, authBaseUrl: standin.url, ...kakao(standin) } }), silent, metrics);
  t.teardown(async () => {
    await log.close({ kakaoGraceMs: 0 });
    await standin.close();
  });
  return { log, standin, metrics, dir };
}

const end = (fields: Partial<Parameters<typeof recordFromPayload>[0]> = {}) =>
  recordFromPayload({ type: 'END', event: 'fall', duration_sec: 5.45, ts: 1764405347.2, frame_idx: 1234, session_id: 'cam-1', ...fields }, Date.now() / 1000);

const localStamp = (ms: number) => {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} / ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
};

t.test('an END event sends the seed memo, form-encoded, with the link and button', async (t) => {
  const { log, standin } = await rig(t, (s) => ({ accessToken: s.issueAccessToken(), linkUrl: 'https://cam.example/live' }));
  const before = Date.now();
  await log.append(end(), { alert: true });
  const after = Date.now();
  await waitFor(() => standin.deliveredMemos().length === 1, 'the memo');
  const [request] = standin.requestsTo('memo');
  const text = String(request!.template!.text);
  const lines = text.split('\n');
  t.same(lines.slice(0, 5), ['[이상행동탐지] 최종 이벤트 알림', '- 최종 이벤트 : fall', '- 지속시간 : 00:00:05 (5.5s)', '- 영상 시간 : 1764405347.20s', '- 프레임 : 1234']);
  t.ok([localStamp(before), localStamp(after)].includes(lines[5]!.replace('- 수신시각 : ', '')), `received time in local time: ${lines[5]}`);
  t.equal(lines.length, 6);
  t.same(request!.template, { object_type: 'text', text, link: { web_url: 'https://cam.example/live', mobile_web_url: 'https://cam.example/live' }, button_title: '확인하러 가기' });
  t.match(request!.contentType, /^application\/x-www-form-urlencoded/);
  t.same(Object.keys(request!.form!), ['template_object']);
});

t.test('optional lines appear only when present; a long memo is cut to 200 characters by whole lines', async (t) => {
  const { log, standin } = await rig(t, (s) => ({ accessToken: s.issueAccessToken() }));
  await log.append(recordFromPayload({ type: 'END', ts: 12.5 }, 0), { alert: true });
  const longName = 'fall-'.repeat(30);
  await log.append(end({ event: longName }), { alert: true });
  await waitFor(() => standin.deliveredMemos().length === 2, 'both memos');
  const [short, long] = standin.deliveredMemos();
  t.match(short, /^\[이상행동탐지\] 최종 이벤트 알림\n- 최종 이벤트 : -\n- 영상 시간 : 12\.50s\n- 수신시각 : [\d-]+ \/ [\d:]+$/);
  // Header and event line make 182 characters; the duration line would pass 200, so it and all after go.
  t.equal(long, `[이상행동탐지] 최종 이벤트 알림\n- 최종 이벤트 : ${longName}`, 'trailing lines dropped whole');
  t.same(standin.requestsTo('memo')[1]!.template!.link, {}, 'link is {} without ALERT_LINK_URL');
});

t.test('memo text and cut, directly', async (t) => {
  const at = new Date(2026, 10, 29, 17, 35, 47).getTime();
  t.equal(memoText({ session_id: null, event: 'fall', duration_sec: 3725.25, ts: 0.125, frame_idx: 0, received_at_ms: at }),
    '[이상행동탐지] 최종 이벤트 알림\n- 최종 이벤트 : fall\n- 지속시간 : 01:02:05 (3725.2s)\n- 영상 시간 : 0.12s\n- 프레임 : 0\n- 수신시각 : 2026-11-29 / 17:35:47');
  t.equal(pythonFixed(3725.25, 1), '3725.2', 'ties round to even, as Python does');
  const huge = memoText({ session_id: null, event: '넘어짐'.repeat(100), duration_sec: null, ts: null, frame_idx: null, received_at_ms: at });
  const cut = cutMemo(huge);
  t.equal(cut.length, 200, 'an event line that alone is too long is cut inside the text');
  t.ok(huge.startsWith(cut));
});

t.test('-401 → one refresh → retry succeeds; the rotated refresh token is saved atomically and used after a restart', async (t) => {
  const dir = join(root, `case-${dirs++}`);
  mkdirSync(dir);
  const standin = await KakaoStandin.start();
  t.teardown(() => standin.close());
  // 20 days left: Kakao rotates it on use, and the old one stops working.
  const envRefresh = standin.issueRefreshToken(20 * 86_400);
  const kakao = { apiBaseUrl: standin.url, authBaseUrl: standin.url, accessToken: standin.issueAccessToken(), restApiKey: standin.clientId, refreshToken: envRefresh };
  const metrics = createMetrics();
  const log = await EventLog.open(eventOptions(dir, { kakao }), silent, metrics);
  standin.script('memo', { status: 401, body: { code: -401, msg: 'this access token is already expired' } });
  await log.append(end(), { alert: true });
  await waitFor(() => standin.deliveredMemos().length === 1, 'the memo after the refresh');
  const memos = standin.requestsTo('memo');
  t.equal(memos.length, 2, 'one failed attempt, one retry');
  t.equal(standin.requestsTo('oauth').length, 1, 'one refresh');
  t.not(memos[1]!.token, memos[0]!.token, 'the retry uses the new access token');
  t.same(standin.requestsTo('oauth')[0]!.form, { grant_type: 'refresh_token', client_id: standin.clientId, refresh_token: envRefresh });
  t.notOk(standin.refreshTokenValid(envRefresh), 'Kakao retired the old refresh token');

  const saved = JSON.parse(readFileSync(join(dir, 'kakao-token.json'), 'utf8')) as Record<string, unknown>;
  t.equal(saved.access_token, memos[1]!.token);
  t.ok(standin.refreshTokenValid(String(saved.refresh_token)), 'the file holds the new, valid refresh token');
  await waitFor(async () => (await metricValue(metrics, 'kakao_memo_sends_total', { outcome: 'ok' })) === 1, 'the writer thread to count the memo');
  t.equal(await metricValue(metrics, 'kakao_token_refreshes_total', { outcome: 'ok' }), 1);
  t.equal(await metricValue(metrics, 'kakao_memo_sends_total', { outcome: 'unauthorized' }), 1);
  const check = await log.kakaoTokenCheck();
  t.match(check, { ok: true, response: { id: 4242 }, token: { source: 'env', refresh_token_state: 'valid', expires_in: Number } });
  t.notOk(JSON.stringify(check).includes('access-') || JSON.stringify(check).includes('refresh-'), 'no token in the answer');
  await log.close();

  // Restart with the same (now dead) environment tokens: the file takes over and alerts keep working.
  standin.expireAccessToken(String(saved.access_token));
  const again = await EventLog.open(eventOptions(dir, { kakao }), silent, createMetrics());
  t.teardown(() => again.close({ kakaoGraceMs: 0 }));
  await again.append(end({ session_id: 'cam-2' }), { alert: true });
  await waitFor(() => standin.deliveredMemos().length === 2, 'a memo after the restart');
  t.equal(standin.requestsTo('oauth').at(-1)!.form!.refresh_token, saved.refresh_token, 'the refresh used the saved token, not the dead one');
  t.match(await again.kakaoTokenCheck(), { ok: true, token: { source: 'file' } });
});

t.test('a new refresh token in the environment (fresh login) wins over an older token file', async (t) => {
  const dir = join(root, `case-${dirs++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'kakao-token.json'), JSON.stringify({
    version: 1, access_token: 'access-from-an-old-login', access_token_expires_at: null, refresh_token: 'refresh-from-an-old-login',
    refresh_token_expires_at: null, env_refresh_token_sha256: 'not-the-current-one', env_access_token_sha256: null, saved_at: '2026-01-01T00:00:00+00:00',
  }));
  const standin = await KakaoStandin.start();
  t.teardown(() => standin.close());
  const fresh = standin.issueRefreshToken();
  const log = await EventLog.open(eventOptions(dir, { kakao: { apiBaseUrl: standin.url, authBaseUrl: standin.url, restApiKey: standin.clientId, refreshToken: fresh } }), silent, createMetrics());
  t.teardown(() => log.close({ kakaoGraceMs: 0 }));
  t.match(await log.kakaoSendTest('hello'), { ok: true, response: { result_code: 0 } });
  t.equal(standin.requestsTo('oauth')[0]!.form!.refresh_token, fresh);
  t.equal(standin.deliveredMemos()[0], 'hello');
});

t.test('KOE322: the refresh token is marked invalid, reported, and not retried in a storm', async (t) => {
  const { log, standin, metrics } = await rig(t, (s) => ({ accessToken: s.issueAccessToken(), restApiKey: s.clientId, refreshToken: 'refresh-expired-long-ago' }));
  const expired = { status: 401, body: { code: -401, msg: 'this access token is already expired' } };
  standin.script('memo', expired, expired);
  await log.append(end(), { alert: true });
  await waitFor(async () => (await metricValue(metrics, 'kakao_alerts_undelivered_total', { reason: 'refresh_token_invalid' })) === 1, 'the first alert reported');
  await log.append(end({ session_id: 'cam-9' }), { alert: true });
  await waitFor(async () => (await metricValue(metrics, 'kakao_alerts_undelivered_total', { reason: 'refresh_token_invalid' })) === 2, 'the second alert reported');
  t.equal(standin.requestsTo('oauth').length, 1, 'one refresh attempt, not one per alert');
  t.equal(await metricValue(metrics, 'kakao_token_refreshes_total', { outcome: 'invalid_grant' }), 1);
  t.match(await log.kakaoTokenCheck(), { ok: true, token: { refresh_token_state: 'invalid', last_refresh_error: /KOE322/ } });
});

t.test('a quota error pauses sending: later alerts are not sent and are counted', async (t) => {
  const { log, standin, metrics } = await rig(t, (s) => ({ accessToken: s.issueAccessToken() }));
  standin.script('memo', KAKAO_ERRORS.quota);
  await log.append(end(), { alert: true });
  await waitFor(async () => (await metricValue(metrics, 'kakao_alerts_undelivered_total', { reason: 'quota' })) === 1, 'the quota error');
  await log.append(end({ session_id: 'cam-2' }), { alert: true });
  await log.append(end({ session_id: 'cam-3' }), { alert: true });
  await waitFor(async () => (await metricValue(metrics, 'kakao_alerts_undelivered_total', { reason: 'quota_paused' })) === 2, 'the paused alerts');
  t.equal(standin.requestsTo('memo').length, 1, 'nothing was sent during the pause');
  t.equal(await metricValue(metrics, 'kakao_memo_sends_total', { outcome: 'quota' }), 1);
});

t.test('transient errors are retried with back-off until one succeeds; permanent ones are not retried', async (t) => {
  const { log, standin, metrics } = await rig(t, (s) => ({ accessToken: s.issueAccessToken() }));
  standin.script('memo', KAKAO_ERRORS.internal, KAKAO_ERRORS.unavailable, 'drop');
  await log.append(end(), { alert: true });
  // The stand-in records its answer before the writer thread has read it: wait for the thread's count.
  await waitFor(async () => (await metricValue(metrics, 'kakao_memo_sends_total', { outcome: 'ok' })) === 1, 'the memo after three transient failures');
  t.equal(standin.deliveredMemos().length, 1);
  t.equal(standin.requestsTo('memo').length, 4);
  t.equal(await metricValue(metrics, 'kakao_memo_sends_total', { outcome: 'transient' }), 3);

  standin.script('memo', KAKAO_ERRORS.consent);
  await log.append(end({ session_id: 'cam-2' }), { alert: true });
  await waitFor(async () => (await metricValue(metrics, 'kakao_alerts_undelivered_total', { reason: 'forbidden' })) === 1, 'the consent error');
  t.equal(standin.requestsTo('memo').length, 5, 'a missing consent is not retried');
});

t.test('cooldown per (session, event): a flapping camera sends one memo', async (t) => {
  const { log, standin, metrics } = await rig(t, (s) => ({ accessToken: s.issueAccessToken(), cooldownSec: 600 }));
  for (const [session, event] of [['cam-1', 'fall'], ['cam-1', 'fall'], ['cam-1', 'fall'], ['cam-1', 'fight'], ['cam-2', 'fall']]) {
    await log.append(end({ session_id: session, event }), { alert: true });
  }
  await waitFor(async () => standin.deliveredMemos().length === 3 && (await metricValue(metrics, 'kakao_alerts_undelivered_total', { reason: 'cooldown' })) === 2, 'three memos, two held back');
  t.same(standin.deliveredMemos().map((m) => m.split('\n')[1]), ['- 최종 이벤트 : fall', '- 최종 이벤트 : fight', '- 최종 이벤트 : fall']);
});

t.test('an alert dropped because the queue is full does not start its cooldown', async (t) => {
  const { log, standin, metrics } = await rig(t, (s) => ({ accessToken: s.issueAccessToken(), cooldownSec: 600, timeoutMs: 120_000 }));
  const answer = standin.hold('memo');
  // One memo in flight (held) and 100 waiting fill the alert queue; the next one is dropped.
  for (let i = 0; i <= 101; i++) await log.append(end({ session_id: `cam-${i}` }), { alert: true });
  await waitFor(async () => (await metricValue(metrics, 'kakao_alerts_undelivered_total', { reason: 'queue_full' })) === 1, 'one alert refused for a full queue');
  answer();
  await waitFor(() => standin.deliveredMemos().length === 101, 'the queued memos');
  await log.append(end({ session_id: 'cam-101' }), { alert: true });
  await waitFor(() => standin.deliveredMemos().length === 102, 'the dropped camera\'s next END');
  t.equal(await metricValue(metrics, 'kakao_alerts_undelivered_total', { reason: 'cooldown' }), 0, 'no cooldown from an alert that was never sent');
});

t.test('a slow Kakao never holds back an acknowledgement', async (t) => {
  const { log, standin } = await rig(t, (s) => ({ accessToken: s.issueAccessToken(), timeoutMs: 120_000 }));
  // Kakao takes the memo and does not answer until the test says so.
  const answer = standin.hold('memo');
  await log.append(end(), { alert: true });
  await waitFor(() => standin.requestsTo('memo').length === 1, 'the memo to reach Kakao');
  await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(recordFromPayload({ type: 'HEARTBEAT', frame_idx: i }, 1))));
  t.equal(standin.requestsTo('memo')[0]!.status, null, 'all appends were acknowledged while Kakao had not answered the memo');
  answer();
  await waitFor(() => standin.deliveredMemos().length === 1, 'the memo once Kakao answers');
});

t.test('Kakao down: appends are acknowledged and the alert is counted as undelivered', async (t) => {
  const { log, metrics } = await rig(t, () => ({ accessToken: 'access-anything', apiBaseUrl: 'http://127.0.0.1:9', timeoutMs: 500 }));
  await log.append(end(), { alert: true });
  await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(recordFromPayload({ type: 'HEARTBEAT', frame_idx: i }, 1))));
  await waitFor(async () => (await metricValue(metrics, 'kakao_alerts_undelivered_total', { reason: 'transient' })) === 1, 'retries to run out');
  t.equal(await metricValue(metrics, 'kakao_memo_sends_total', { outcome: 'transient' }), 4);
});

t.test('the access token is refreshed ahead of its expiry', async (t) => {
  const { log, standin } = await rig(t, (s) => ({ restApiKey: s.clientId, refreshToken: s.issueRefreshToken() }), { accessTokenLifeSec: 6 });
  await waitFor(() => standin.requestsTo('oauth').length >= 2, 'a refresh at start and one before expiry');
  const check = await log.kakaoTokenCheck();
  t.match(check, { ok: true, token: { refresh_token_state: 'valid' } });
  t.ok((check.token as { expires_in: number }).expires_in > 0);
});

t.test('without a token: no memo, counted as no_token; debug calls say so', async (t) => {
  const { log, standin, metrics } = await rig(t, () => ({}));
  await log.append(end(), { alert: true });
  await waitFor(async () => (await metricValue(metrics, 'kakao_alerts_undelivered_total', { reason: 'no_token' })) === 1, 'the no_token count');
  t.same(await log.kakaoTokenCheck(), { ok: false, err: 'KAKAO_ACCESS_TOKEN not set' });
  t.same(await log.kakaoSendTest('hi'), { ok: false, err: 'KAKAO_ACCESS_TOKEN not set' });
  t.equal(standin.requests.length, 0);
});

t.test('send-test and token-check report Kakao errors without tokens', async (t) => {
  const { log, standin } = await rig(t, (s) => ({ accessToken: s.issueAccessToken() }));
  t.same(await log.kakaoSendTest('x'.repeat(300)), { ok: true, response: { result_code: 0 } });
  t.equal(standin.deliveredMemos()[0]!.length, 200, 'send-test text is cut to the limit too');
  standin.script('me', KAKAO_ERRORS.consent);
  const check = await log.kakaoTokenCheck();
  t.match(check, { ok: false, err: 'kakao -402: insufficient scopes.', response: { required_scopes: ['talk_message'] } });
  t.notOk(JSON.stringify(check).includes('access-'));
});
