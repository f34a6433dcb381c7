/**
 * The END-alert policy (KakaoAlerts) on a fake clock and a fake Kakao client, so back-offs, ages
 * and log windows take no real time: retries on a timer outside the send slots, bounded
 * concurrency, newest first, stale memos dropped, a full queue dropping its oldest alert with one
 * log line per burst, the cooldown (in memory, or from a shared store answering later), the quota
 * pause, no token, shutdown and send-test.
 * The same scenarios through the real server and the Kakao stand-in are in kakao-http.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { KakaoConfig, AlertRequest } from '../src/contracts/writer.js';
import { KakaoAlerts, QUEUE_MAX, SEND_SLOTS } from '../workers/writer/kakao-alerts.js';
import type { Cooldown } from '../workers/writer/kakao-cooldowns.js';
import { DROP_SUMMARY_WINDOW_MS } from '../workers/writer/kakao-drop-log.js';
import { KakaoTokens } from '../workers/writer/kakao-tokens.js';
import { captureLogger, eventOptions } from './support/event-options.js';
import { FakeClock, FakeKakaoClient, REPLIES, Reports, settle } from './support/kakao-fakes.js';

const root = mkdtempSync(join(tmpdir(), 'kakao-alerts-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

/** KakaoAlerts over real KakaoTokens, both on a fake client and clock; 'access-env' is a token Kakao accepts. */
function rig(t: Test, kakao: Partial<KakaoConfig> = {}) {
  const clock = new FakeClock();
  const client = new FakeKakaoClient();
  client.accepted.add('access-env');
  const { logger, records } = captureLogger();
  const reports = new Reports();
  const config = eventOptions(join(root, `case-${dirs++}`), { kakao: { accessToken: 'access-env', ...kakao } }).kakao;
  const tokens = new KakaoTokens({ config, client, logger, report: reports.report, clock });
  tokens.load();
  const alerts = new KakaoAlerts({ config, client, tokens, logger, report: reports.report, clock });
  t.teardown(async () => {
    await alerts.close(0);
    tokens.close();
  });
  /** An END received now; `frame` tells the memos apart. */
  const end = (frame: number, fields: Partial<AlertRequest> = {}): AlertRequest =>
    ({ event_id: `e${frame}`, session_id: `cam-${frame}`, event: 'fall', label: null, duration_sec: 5.45, ts: 12.5, frame_idx: frame, received_at_ms: clock.now(), ...fields });
  /** The frame of each memo sent to Kakao, in call order. */
  const framesSent = () => client.callsTo('memo').map((c) => Number(/- 프레임 : (\d+)/.exec(c.text!)![1]));
  const logged = (message: RegExp) => records.filter((r) => message.test(String(r.msg)));
  return { clock, client, reports, records, alerts, tokens, end, framesSent, logged };
}

t.test('transient errors are retried after a growing back-off until one succeeds; permanent ones are not retried', async (t) => {
  const { clock, client, reports, alerts, end, logged } = rig(t);
  client.script('memo', REPLIES.transient, REPLIES.down, REPLIES.transient);
  alerts.enqueue(end(1));
  await settle();
  const waits: number[] = [];
  for (let retry = 1; retry <= 3; retry++) {
    t.equal(client.callsTo('memo').length, retry, `attempt ${retry} made, the next one waits`);
    const [wait] = clock.timers();
    waits.push(wait!);
    await clock.advance(wait!);
  }
  t.equal(client.callsTo('memo').length, 4);
  t.ok(waits[0]! >= 250 && waits[0]! <= 500 && waits[1]! >= 500 && waits[1]! <= 1000 && waits[2]! >= 1000 && waits[2]! <= 2000, `exponential, jittered: ${waits}`);
  t.equal(reports.count('sends', 'transient'), 3);
  t.equal(reports.count('sends', 'ok'), 1);
  t.equal(logged(/Kakao memo sent/)[0]?.attempt, 4);

  client.script('memo', REPLIES.consent);
  alerts.enqueue(end(2));
  await settle();
  t.equal(client.callsTo('memo').length, 5);
  t.same(clock.timers(), [], 'a missing consent is not retried');
  t.equal(reports.count('undelivered', 'forbidden'), 1);
  t.equal(logged(/Kakao alert not delivered/).length, 1);
  t.match(logged(/Kakao alert not delivered/), [{ reason: 'forbidden', error: 'kakao -402: insufficient scopes.', required_scopes: ['talk_message'] }]);

  client.script('memo', REPLIES.transient, REPLIES.transient, REPLIES.transient, REPLIES.transient);
  alerts.enqueue(end(3));
  await settle();
  await clock.advance(60_000);
  t.equal(client.callsTo('memo').length, 9, 'four attempts in all');
  t.equal(reports.count('undelivered', 'transient'), 1, 'then given up and counted');
});

t.test('a memo waiting to retry holds no send slot: new alerts go out at once, up to SEND_SLOTS in flight', async (t) => {
  const { clock, client, reports, alerts, end, framesSent } = rig(t);
  client.script('memo', REPLIES.transient);
  alerts.enqueue(end(1));
  await settle();
  t.equal(clock.timers().length, 1, 'alert 1 failed and waits out its back-off');
  await clock.advance(100);
  const release = client.hold('memo');
  for (let frame = 2; frame <= 2 + SEND_SLOTS; frame++) alerts.enqueue(end(frame));
  await settle();
  t.same(framesSent(), [1, 2, 3, 4, 5], 'each new alert sent at once while a slot is free; the last one waits');
  await clock.advance(clock.timers()[0]!);
  t.equal(framesSent().length, 1 + SEND_SLOTS, 'alert 1\'s retry is due but every slot is busy');
  release();
  await settle();
  t.same(framesSent().slice(1 + SEND_SLOTS), [6, 1], 'then the rest, newest first');
  t.equal(reports.count('sends', 'ok'), 2 + SEND_SLOTS);
});

t.test('newest first; a memo older than KAKAO_ALERT_MAX_AGE_SEC when its turn comes is dropped as stale, logged once per burst', async (t) => {
  const { clock, client, reports, alerts, end, framesSent, logged } = rig(t, { maxAgeSec: 600 });
  const release = client.hold('memo');
  for (let frame = 1; frame <= SEND_SLOTS; frame++) alerts.enqueue(end(frame));
  // Kakao stays silent for 15 minutes while ENDs keep coming.
  for (let frame = 100; frame < 150; frame++) alerts.enqueue(end(frame));
  await clock.advance(300_000);
  alerts.enqueue(end(500));
  await clock.advance(301_000);
  alerts.enqueue(end(900));
  alerts.enqueue(end(901));
  await settle();
  t.equal(reports.count('undelivered', 'stale'), 50, 'the 50 ENDs over 10 minutes old, dropped as soon as seen');
  release();
  await settle();
  t.same(framesSent().slice(SEND_SLOTS), [901, 900, 500], 'the others, newest first');
  t.equal(reports.count('sends', 'ok'), SEND_SLOTS + 3);
  t.equal(logged(/not delivered/).length, 1, 'one line for the first stale memo');
  await clock.advance(DROP_SUMMARY_WINDOW_MS);
  t.equal(logged(/not delivered/).length, 2);
  t.match(logged(/not delivered/), [{ reason: 'stale', session_id: 'cam-149' }, { reason: 'stale', count: 49 }], 'and one summing up the rest');
});

t.test('a full queue drops its oldest alert for the new one: every drop counted, one log line per burst', async (t) => {
  const { clock, client, reports, alerts, end, framesSent, logged } = rig(t);
  const release = client.hold('memo');
  for (let frame = 1; frame <= SEND_SLOTS + QUEUE_MAX + 100; frame++) {
    alerts.enqueue(end(frame));
    await clock.advance(1);
  }
  t.equal(reports.count('undelivered', 'queue_full'), 100, 'each drop counted');
  const dropLines = () => logged(/not delivered/);
  t.equal(dropLines().length, 1, 'the first drop logged');
  await clock.advance(DROP_SUMMARY_WINDOW_MS);
  t.equal(dropLines().length, 2);
  t.match(dropLines(), [{ reason: 'queue_full', session_id: `cam-${SEND_SLOTS + 1}` }, { reason: 'queue_full', count: 99 }], 'the rest summed up in one line');
  await clock.advance(DROP_SUMMARY_WINDOW_MS);
  t.equal(dropLines().length, 2, 'a window without drops ends the burst quietly');
  alerts.enqueue(end(1000));
  t.equal(dropLines().length, 3, 'the next burst\'s first drop is logged again');
  release();
  await settle();
  const sent = framesSent().slice(SEND_SLOTS);
  t.equal(sent.length, QUEUE_MAX);
  t.equal(Math.min(...sent), SEND_SLOTS + 102, 'the newest ENDs were kept');
});

t.test('cooldown per (session, event); an alert pushed out of a full queue gives its cooldown back', async (t) => {
  const { clock, client, reports, alerts, end, framesSent } = rig(t, { cooldownSec: 600 });
  for (const [session, event] of [['cam-1', 'fall'], ['cam-1', 'fall'], ['cam-1', 'fall'], ['cam-1', 'fight'], ['cam-2', 'fall']]) {
    alerts.enqueue(end(1, { session_id: session!, event: event! }));
  }
  await settle();
  t.equal(client.callsTo('memo').length, 3);
  t.equal(reports.count('undelivered', 'cooldown'), 2, 'the flapping camera held back');
  await clock.advance(600_000);
  alerts.enqueue(end(2, { session_id: 'cam-1' }));
  await settle();
  t.equal(client.callsTo('memo').length, 4, 'once the cooldown is over it sends again');

  const release = client.hold('memo');
  for (let frame = 10; frame < 10 + SEND_SLOTS + QUEUE_MAX + 1; frame++) {
    alerts.enqueue(end(frame));
    await clock.advance(1);
  }
  const pushedOut = 10 + SEND_SLOTS;
  t.equal(reports.count('undelivered', 'queue_full'), 1);
  alerts.enqueue(end(9999, { session_id: `cam-${pushedOut}` }));
  t.equal(reports.count('undelivered', 'cooldown'), 2, 'its camera\'s next END is taken');
  release();
  await settle();
  t.ok(framesSent().includes(9999));
});

t.test('cooldowns kept by a shared store: an alert is queued once the store answers, or held back; close() waits for its answers within the grace', async (t) => {
  const { client, reports, alerts, end, framesSent } = rig(t, { cooldownSec: 600 });
  const answers: Array<(cooldown: Cooldown | null) => void> = [];
  alerts.useCooldowns({ start: () => new Promise((resolve) => answers.push(resolve)) });
  const started: Cooldown = { giveBack: () => {} };
  alerts.enqueue(end(1));
  alerts.enqueue(end(2));
  await settle();
  t.same(client.calls, [], 'nothing sent before the store answers');
  answers[0]!(started);
  answers[1]!(null);
  await settle();
  t.same(framesSent(), [1]);
  t.equal(reports.count('undelivered', 'cooldown'), 1, 'the one the store held back is counted');

  alerts.enqueue(end(3));
  const closed = alerts.close(60_000);
  await settle();
  answers[2]!(started);
  await closed;
  t.same(framesSent(), [1, 3], 'close() waited for the answer and the memo');
  alerts.enqueue(end(4));
  t.equal(reports.count('undelivered', 'shutdown'), 1, 'nothing asked after close');
  t.equal(answers.length, 3);
});

t.test('an alert whose shared cooldown answers after close() is given up as shutdown', async (t) => {
  const { client, reports, alerts, end } = rig(t, { cooldownSec: 600 });
  const answers: Array<(cooldown: Cooldown | null) => void> = [];
  alerts.useCooldowns({ start: () => new Promise((resolve) => answers.push(resolve)) });
  alerts.enqueue(end(1));
  await alerts.close(0);
  answers[0]!({ giveBack: () => {} });
  await settle();
  t.equal(reports.count('undelivered', 'shutdown'), 1);
  t.same(client.calls, []);
});

t.test('a quota error pauses memos for an hour: later alerts are counted, not sent', async (t) => {
  const { clock, client, reports, alerts, end } = rig(t);
  client.script('memo', REPLIES.quota);
  alerts.enqueue(end(1));
  await settle();
  alerts.enqueue(end(2));
  await clock.advance(59 * 60_000);
  alerts.enqueue(end(3));
  t.equal(reports.count('undelivered', 'quota'), 1);
  t.equal(reports.count('undelivered', 'quota_paused'), 2);
  t.equal(client.callsTo('memo').length, 1);
  await clock.advance(60_000);
  alerts.enqueue(end(4));
  await settle();
  t.equal(reports.count('sends', 'ok'), 1, 'an hour on, memos go out again');
});

t.test('without a token: no memo, counted as no_token; send-test says so', async (t) => {
  const { client, reports, alerts, end } = rig(t, { accessToken: null });
  alerts.enqueue(end(1));
  t.equal(reports.count('undelivered', 'no_token'), 1);
  t.same(await alerts.sendTest('hi'), { ok: false, err: 'KAKAO_ACCESS_TOKEN not set' });
  t.same(client.calls, []);
});

t.test('close gives up waiting and retrying alerts as shutdown, each once', async (t) => {
  const { clock, client, reports, alerts, end, logged } = rig(t);
  client.script('memo', REPLIES.transient);
  alerts.enqueue(end(1));
  await settle();
  const release = client.hold('memo');
  for (let frame = 2; frame <= SEND_SLOTS + 3; frame++) alerts.enqueue(end(frame));
  await settle();
  await alerts.close(0);
  t.equal(reports.count('undelivered', 'shutdown'), 3, 'two waiting for a slot, one for its retry');
  t.same(clock.timers(), [], 'the retry timer is gone');
  t.equal(logged(/not delivered/).length, 3);
  alerts.enqueue(end(99));
  t.equal(reports.count('undelivered', 'shutdown'), 4, 'nothing is taken after close');
  release();
  await alerts.settled();
  t.equal(client.callsTo('memo').length, 1 + SEND_SLOTS, 'nothing was started after close');
});

t.test('send-test: the text cut to 200 characters, outside the queue; Kakao errors reported with their body', async (t) => {
  const { client, alerts } = rig(t);
  t.same(await alerts.sendTest('x'.repeat(300)), { ok: true, response: { result_code: 0 } });
  t.equal(client.callsTo('memo')[0]!.text!.length, 200);
  client.script('memo', REPLIES.consent);
  t.same(await alerts.sendTest('hi'), { ok: false, err: 'kakao -402: insufficient scopes.', response: { code: -402, msg: 'insufficient scopes.', required_scopes: ['talk_message'] } });
});
