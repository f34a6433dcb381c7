/**
 * END memos through the NATS store's shared consumer, on the shared NATS and the Kakao stand-in:
 * each writer side here is what a replica's writer thread runs (KakaoClient, KakaoTokens,
 * KakaoAlerts, AlertConsumer) with a connection of its own. Alerts published to `<stream>.alert`
 * are sent once each by two replicas together; a replica stopped abruptly while holding alerts has
 * them sent by another after the ack wait and the claims' lease; one closing hands its alerts back
 * at once; an alert redelivered after its claim says sent is not sent again; a replica never holds
 * more than its queue takes; a replica started while NATS is down says its tokens are in the NATS
 * store and takes alerts once it answers, those stored before its consumer existed included, and
 * goes on after NATS restarts; a consumer with other settings is refused. The cooldown per camera
 * and event is shared by the replicas (and given back as in one process); every replica learns the
 * outcome of the memos the others send, and a server shows them on its watch page.
 */
import t, { type Test } from 'tap';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { AlertRequest, KakaoConfig, NatsStoreConfig } from '../src/contracts/writer.js';
import { ALERT_HEADER, alertSubject, encodeAlert, REPLICA_HEADER } from '../src/common/event-stream.js';
import { recordFromPayload, serializeRecord } from '../src/events/records.js';
import { createLogger } from '../src/common/log.js';
import { KakaoAlerts, QUEUE_MAX } from '../workers/writer/kakao-alerts.js';
import { KakaoClient } from '../workers/writer/kakao-client.js';
import type { Clock } from '../workers/writer/kakao-clock.js';
import { KakaoTokens } from '../workers/writer/kakao-tokens.js';
import { AlertClaims, CLAIM_LEASE_MS } from '../workers/writer/nats/alert-claims.js';
import { ACK_WAIT_MS, ALERT_CONSUMER } from '../workers/writer/nats/alert-consumer.js';
import { AlertReplica } from '../workers/writer/nats/alert-replica.js';
import { NatsContext } from '../workers/writer/nats/context.js';
import { CooldownBucket } from '../workers/writer/nats/cooldown-bucket.js';
import { ensureStream } from '../workers/writer/nats/stream-setup.js';
import { closedPort } from './support/event-http.js';
import { captureLogger, eventOptions } from './support/event-options.js';
import { FakeClock } from './support/kakao-fakes.js';
import { KakaoStandin } from './support/kakao-standin.js';
import { cleanUpStream, haveNatsServerBinary, haveSharedNats, SHARED_NATS_URL, startOwnNats, uniqueStream } from './support/nats.js';
import { startTestServer } from './support/server.js';
import { tempDir } from './support/temp-dir.js';
import { waitFor, waitForValue } from './support/wait.js';

const PAGE_BASE = 'http://watch.test/watch/events/';

interface Outcome { event_id: string; delivered: boolean; reason: string | null }

interface WriterSide {
  alerts: KakaoAlerts;
  tokens: KakaoTokens;
  /** What became of the memos this replica took. */
  outcomes: Outcome[];
  /** What became of the memos other replicas took, as their claims said. */
  elsewhere: Outcome[];
  logs: Array<Record<string, unknown>>;
  /** Closes as the writer thread does at shutdown: the alerts in hand are handed back. */
  close(): Promise<void>;
  /** Stops answering NATS at once (as if killed): nothing acknowledged, nothing handed back. */
  kill(): Promise<void>;
}

function natsConfig(stream: string, replicaId: string, url = SHARED_NATS_URL): NatsStoreConfig {
  return { servers: [url], stream, replicas: 1, maxAgeSec: 0, maxBytes: 0, replicaId };
}

/** The store's stream, made as the store makes it and deleted after the test, and a connection of the test's own. */
async function alertStream(t: Test): Promise<{ stream: string; nc: NatsConnection; jsm: JetStreamManager }> {
  const stream = uniqueStream('ALERTS');
  cleanUpStream(t, stream);
  const nc = await connect({ servers: SHARED_NATS_URL });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, natsConfig(stream, 'test'), createLogger('silent'));
  return { stream, nc, jsm };
}

interface SideOptions {
  natsUrl?: string;
  kakao?: Partial<KakaoConfig>;
  clock?: Clock;
}

let replicas = 0;
/** A replica's writer thread as far as memos go: the NATS context, Kakao's client, tokens and alerts, and AlertReplica. */
async function writerSide(t: Test, stream: string, kakaoUrl: string, accessToken: string, options: SideOptions = {}): Promise<WriterSide> {
  const { logger, records } = captureLogger();
  const context = new NatsContext({ config: natsConfig(stream, `replica-${++replicas}`, options.natsUrl), logger, onHealth: () => {} });
  await context.start();
  const config = eventOptions(tempDir(), { kakao: { accessToken, apiBaseUrl: kakaoUrl, authBaseUrl: kakaoUrl, eventPageBase: PAGE_BASE, ...options.kakao } }).kakao;
  const client = new KakaoClient(config);
  const report = () => {};
  const tokens = new KakaoTokens({ config, client, logger, report });
  const outcomes: Outcome[] = [];
  const elsewhere: Outcome[] = [];
  let replica: AlertReplica | null = null;
  const alerts = new KakaoAlerts({
    config, client, tokens, logger, report, clock: options.clock,
    outcome: (alert, delivered, reason) => {
      outcomes.push({ event_id: alert.event_id, delivered, reason });
      replica?.settle(alert, delivered, reason);
    },
  });
  const settledElsewhere = (eventId: string, delivered: boolean, reason: string | null) => elsewhere.push({ event_id: eventId, delivered, reason });
  replica = new AlertReplica({ context, tokens, alerts, kakao: config, settledElsewhere, logger });
  try {
    await replica.start();
  } catch (err) {
    await context.close();
    await client.close();
    throw err;
  }
  const stopKakao = async () => {
    await alerts.close(0);
    tokens.close();
    await client.close();
    await alerts.settled();
  };
  let closed = false;
  const side: WriterSide = {
    alerts,
    tokens,
    outcomes,
    elsewhere,
    logs: records,
    async close() {
      if (closed) return;
      closed = true;
      await replica.stop();
      await stopKakao();
      await replica.close(5000);
      await context.close();
    },
    async kill() {
      closed = true;
      await context.handles!.connection.close();
      await stopKakao();
      await replica.close(0);
    },
  };
  t.teardown(() => side.close());
  return side;
}

let frames = 0;
function endAlert(): AlertRequest {
  const frame = ++frames;
  return { event_id: `${String(frame).padStart(8, '0')}${'e'.repeat(24)}`, session_id: `cam-${frame % 7}`, event: 'fall', label: '낙상', duration_sec: 5.45, ts: 12.5, frame_idx: frame, received_at_ms: Date.now() };
}

/** Publishes the alerts as the store does: the END record's line as the body, the alert in a header, deduplicated by event_id. */
async function publish(nc: NatsConnection, stream: string, alerts: AlertRequest[], msgIdSuffix = ''): Promise<void> {
  const js = jetstream(nc);
  await Promise.all(alerts.map((alert) => {
    const h = headers();
    h.set(ALERT_HEADER, encodeAlert(alert));
    return js.publish(alertSubject(stream), JSON.stringify({ type: 'END', event_id: alert.event_id }), { msgID: alert.event_id + msgIdSuffix, headers: h });
  }));
}

/** The event_id of every memo Kakao delivered (the button opens the event's page). */
function memoEventIds(kakao: KakaoStandin): string[] {
  return kakao.requestsTo('memo').filter((r) => r.status === 200)
    .map((r) => String((r.template?.link as { web_url?: string } | undefined)?.web_url).slice(PAGE_BASE.length));
}

async function consumerIdle(jsm: JetStreamManager, stream: string): Promise<boolean> {
  const info = await jsm.consumers.info(stream, ALERT_CONSUMER);
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

async function standin(t: Test): Promise<{ kakao: KakaoStandin; token: string }> {
  const kakao = await KakaoStandin.start();
  t.teardown(() => kakao.close());
  return { kakao, token: kakao.issueAccessToken() };
}

t.test('two replicas on one consumer: every alert sent exactly once, by one or the other', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const { stream, nc, jsm } = await alertStream(t);
  const { kakao, token } = await standin(t);
  const sides = [await writerSide(t, stream, kakao.url, token), await writerSide(t, stream, kakao.url, token)];
  const alerts = Array.from({ length: 300 }, endAlert);
  await publish(nc, stream, alerts);

  await waitFor(() => memoEventIds(kakao).length >= alerts.length, 'a memo per alert');
  await waitFor(() => consumerIdle(jsm, stream), 'every alert acknowledged');
  const sent = memoEventIds(kakao);
  t.equal(sent.length, alerts.length, 'no memo twice');
  t.same(new Set(sent), new Set(alerts.map((a) => a.event_id)), 'one memo for each alert');
  t.same(sides.flatMap((s) => s.outcomes).filter((o) => !o.delivered), [], 'nothing undelivered');
  t.ok(sides.every((s) => s.outcomes.length > 0), `both replicas sent some (${sides.map((s) => s.outcomes.length).join(' + ')})`);
});

t.test('a replica never holds more alerts than its queue takes: none dropped as queue_full while Kakao is slow', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const { stream, nc, jsm } = await alertStream(t);
  const { kakao, token } = await standin(t);
  const side = await writerSide(t, stream, kakao.url, token);
  const release = kakao.hold('memo');
  const alerts = Array.from({ length: QUEUE_MAX + 50 }, endAlert);
  await publish(nc, stream, alerts);
  await waitFor(async () => (await jsm.consumers.info(stream, ALERT_CONSUMER)).num_ack_pending === QUEUE_MAX, 'the queue to fill');
  t.equal((await jsm.consumers.info(stream, ALERT_CONSUMER)).num_pending, 50, 'the rest wait in the stream');
  release();
  await waitFor(() => consumerIdle(jsm, stream), 'every alert acknowledged');
  t.equal(memoEventIds(kakao).length, alerts.length);
  t.same(side.outcomes.filter((o) => !o.delivered), []);
});

t.test('a replica killed while holding alerts: another sends them once the ack wait and the claims\' lease have passed', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const { stream, nc, jsm } = await alertStream(t);
  const { kakao, token } = await standin(t);
  // The first replica cannot reach Kakao: it holds its alerts, retrying.
  const doomed = await writerSide(t, stream, `http://127.0.0.1:${await closedPort()}`, token);
  const alerts = Array.from({ length: 20 }, endAlert);
  await publish(nc, stream, alerts);
  await waitFor(async () => (await jsm.consumers.info(stream, ALERT_CONSUMER)).num_ack_pending === alerts.length, 'the first replica to hold every alert');
  await doomed.kill();
  const killedAt = Date.now();

  await writerSide(t, stream, kakao.url, token);
  await waitFor(() => memoEventIds(kakao).length >= alerts.length, 'the other replica to send them');
  const took = Date.now() - killedAt;
  await waitFor(() => consumerIdle(jsm, stream), 'every alert acknowledged');
  t.same(memoEventIds(kakao).sort(), alerts.map((a) => a.event_id).sort(), 'each sent once');
  t.ok(took >= ACK_WAIT_MS - 500, `not before the ack wait (${took} ms)`);
  t.ok(took < ACK_WAIT_MS + CLAIM_LEASE_MS + 5000, `within the ack wait and the lease (${took} ms)`);
});

t.test('a replica closing hands the alerts it holds back: another sends them at once', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const { stream, nc, jsm } = await alertStream(t);
  const { kakao, token } = await standin(t);
  const closing = await writerSide(t, stream, `http://127.0.0.1:${await closedPort()}`, token);
  const alerts = Array.from({ length: 20 }, endAlert);
  await publish(nc, stream, alerts);
  await waitFor(async () => (await jsm.consumers.info(stream, ALERT_CONSUMER)).num_ack_pending === alerts.length, 'the first replica to hold every alert');
  await writerSide(t, stream, kakao.url, token);
  const closedAt = Date.now();
  await closing.close();

  await waitFor(() => memoEventIds(kakao).length >= alerts.length, 'the other replica to send them');
  const took = Date.now() - closedAt;
  await waitFor(() => consumerIdle(jsm, stream), 'every alert acknowledged');
  t.same(memoEventIds(kakao).sort(), alerts.map((a) => a.event_id).sort(), 'each sent once');
  t.ok(took < ACK_WAIT_MS, `without waiting for the ack wait (${took} ms)`);
  t.ok(closing.outcomes.every((o) => o.reason === 'shutdown'), 'the closing replica counted them as not sent for its shutdown');
});

t.test('an alert redelivered after its claim says sent is acknowledged without a memo', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const { stream, nc, jsm } = await alertStream(t);
  const { kakao, token } = await standin(t);
  const alert = endAlert();
  // A replica that took the alert, had it delivered and marked its claim sent, then died before acknowledging.
  const dying = await connect({ servers: SHARED_NATS_URL });
  await jetstreamManager(dying).then((m) => m.consumers.add(stream, { durable_name: ALERT_CONSUMER, filter_subject: alertSubject(stream), ack_policy: AckPolicy.Explicit, ack_wait: ACK_WAIT_MS * 1_000_000, max_ack_pending: 1000 }));
  await publish(nc, stream, [alert]);
  const taken = await (await jetstream(dying).consumers.get(stream, ALERT_CONSUMER)).next();
  t.equal(taken?.seq, 1);
  const claims = await AlertClaims.open(new Kvm(dying), stream, 1, 'dying-replica');
  const claim = await claims.claim(alert.event_id);
  if (claim.kind !== 'mine') throw new Error(`unexpected claim ${claim.kind}`);
  await claims.finish(alert.event_id, claim.revision, 'sent', null);
  await dying.close();

  const side = await writerSide(t, stream, kakao.url, token);
  await waitFor(() => consumerIdle(jsm, stream), 'the redelivered alert to be acknowledged');
  t.equal(kakao.requestsTo('memo').length, 0, 'no memo');
  t.same(side.outcomes, [], 'no outcome: the replica that sent it reported it');
  t.ok(side.logs.some((r) => /not sent again/.test(String(r.msg)) && r.event_id === alert.event_id), 'the redelivery was seen');
});

t.test('an alert header that is no whole AlertRequest (another writer\'s bug, a hand-made message) is dropped; the replica goes on', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const { stream, nc, jsm } = await alertStream(t);
  const { kakao, token } = await standin(t);
  const side = await writerSide(t, stream, kakao.url, token);
  const js = jetstream(nc);
  const broken: unknown[] = [{ event_id: 'only-an-id' }, { ...endAlert(), received_at_ms: 'yesterday' }, { ...endAlert(), received_at_ms: 1e300 }, { ...endAlert(), session_id: 7 }];
  for (const [i, value] of broken.entries()) {
    const h = headers();
    h.set(ALERT_HEADER, Buffer.from(JSON.stringify(value)).toString('base64url'));
    await js.publish(alertSubject(stream), '{}', { msgID: `broken-${i}`, headers: h });
  }
  const good = endAlert();
  await publish(nc, stream, [good]);
  await waitFor(() => memoEventIds(kakao).includes(good.event_id), 'the valid alert sent');
  await waitFor(() => consumerIdle(jsm, stream), 'every alert settled');
  t.same(memoEventIds(kakao), [good.event_id], 'no memo for the broken ones');
  t.equal(side.logs.filter((r) => /without a valid alert header/.test(String(r.msg))).length, broken.length, 'each broken one logged as dropped');
});

t.test('a consumer of that name with other settings: refused with one line saying what to do', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const { stream, jsm } = await alertStream(t);
  await jsm.consumers.add(stream, { durable_name: ALERT_CONSUMER, filter_subject: alertSubject(stream), ack_policy: AckPolicy.Explicit, ack_wait: 30_000_000_000 });
  const { kakao, token } = await standin(t);
  await t.rejects(writerSide(t, stream, kakao.url, token), {
    message: `NATS consumer ${ALERT_CONSUMER} on stream ${stream} has other settings (ack_wait 30000000000, not 6000000000): remove it (nats consumer rm ${stream} ${ALERT_CONSUMER}) and start again`,
  });
});

t.test('NATS down at start: memos start once it answers, alerts stored before the consumer existed included', async (t) => {
  if (!haveNatsServerBinary(t)) return;
  const nats = await startOwnNats(t);
  await nats.stop();
  const { kakao, token } = await standin(t);
  const stream = uniqueStream('ALERTS');
  const side = await writerSide(t, stream, kakao.url, token, { natsUrl: nats.url });
  t.ok(side.logs.some((r) => /start once NATS answers/.test(String(r.msg))), 'the replica waits for NATS');
  t.same(await side.tokens.tokenCheck(), { ok: false, err: 'the Kakao tokens are in the NATS store, which is not reachable yet' }, 'the token check says where the tokens are');
  const tooEarly = endAlert();
  side.alerts.enqueue(tooEarly);
  t.same(side.outcomes, [{ event_id: tooEarly.event_id, delivered: false, reason: 'token_store_unreachable' }], 'so does a memo asked for meanwhile');

  // Another replica stores an alert as soon as NATS is back, before this one has created the consumer.
  await nats.start();
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  await ensureStream(await jetstreamManager(nc), natsConfig(stream, 'other', nats.url), createLogger('silent'));
  const early = endAlert();
  await publish(nc, stream, [early]);
  await waitFor(() => memoEventIds(kakao).length === 1, 'the early alert\'s memo');
  const late = endAlert();
  await publish(nc, stream, [late]);
  await waitFor(() => memoEventIds(kakao).length === 2, 'a later alert\'s memo');
  t.same(memoEventIds(kakao), [early.event_id, late.event_id]);
});

t.test('NATS restarted under a running replica: memos go on once it is back', async (t) => {
  if (!haveNatsServerBinary(t)) return;
  const nats = await startOwnNats(t);
  const { kakao, token } = await standin(t);
  const stream = uniqueStream('ALERTS');
  const side = await writerSide(t, stream, kakao.url, token, { natsUrl: nats.url });
  await nats.stop();
  await nats.start();
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const alert = endAlert();
  await publish(nc, stream, [alert]);
  await waitFor(() => memoEventIds(kakao).length === 1, 'the memo after the restart');
  t.same(memoEventIds(kakao), [alert.event_id]);
  t.same(side.outcomes.map((o) => o.delivered), [true]);
});

t.test('the cooldown is shared: an END accepted by one replica holds back the next END of its camera that another takes, until the cooldown is over', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const { stream } = await alertStream(t);
  const { kakao, token } = await standin(t);
  // One clock for both replicas, as NTP gives them: the cooldown ends when it is moved on.
  const clock = new FakeClock(Date.now());
  const options = { kakao: { cooldownSec: 600 }, clock };
  const [first, second] = [await writerSide(t, stream, kakao.url, token, options), await writerSide(t, stream, kakao.url, token, options)] as const;
  const fall = (session: string): AlertRequest => ({ ...endAlert(), session_id: session, event: 'fall', received_at_ms: clock.now() });
  const outcome = async (side: WriterSide, alert: AlertRequest): Promise<Outcome> => {
    side.alerts.enqueue(alert);
    return waitForValue(() => side.outcomes.find((o) => o.event_id === alert.event_id), (o) => o !== undefined, `${alert.event_id}'s outcome`) as Promise<Outcome>;
  };

  const accepted = fall('cam-shared');
  t.match(await outcome(first, accepted), { delivered: true }, 'the first END is sent');
  const heldBack = fall('cam-shared');
  t.same(await outcome(second, heldBack), { event_id: heldBack.event_id, delivered: false, reason: 'cooldown' }, 'the next END of that camera, on the other replica, is held back');
  const otherCamera = fall('cam-other');
  t.match(await outcome(second, otherCamera), { delivered: true }, 'another camera is not');
  t.match(await outcome(second, accepted), { delivered: true }, 'the END that started the cooldown passes it again (handed back, or redelivered after its replica died)');
  await clock.advance(600_000);
  const later = fall('cam-shared');
  t.match(await outcome(second, later), { delivered: true }, 'once the cooldown is over the camera\'s END is sent');
  t.same(memoEventIds(kakao), [accepted.event_id, otherCamera.event_id, accepted.event_id, later.event_id]);
});

t.test('a shared cooldown given back (its alert pushed out of a full queue unsent) lets the camera\'s next END through, unless a later one replaced it', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const { stream, nc } = await alertStream(t);
  const other = await connect({ servers: SHARED_NATS_URL });
  t.teardown(() => other.close());
  const open = (connection: NatsConnection, replicaId: string) => CooldownBucket.open({ kvm: new Kvm(connection), stream, replicas: 1, replicaId, logger: createLogger('silent') });
  const [first, second] = [await open(nc, 'first'), await open(other, 'second')];
  const key = 'cam-1\u0000fall';
  const cooldownMs = 600_000;
  const at = Date.now();

  const pushedOut = await first.start(key, at, cooldownMs, 'e1');
  t.ok(pushedOut, 'the first END starts the cooldown');
  t.equal(await second.start(key, at + 1, cooldownMs, 'e2'), null, 'the next is held back on another replica');
  pushedOut!.giveBack();
  const taken = await waitForValue(() => second.start(key, at + 2, cooldownMs, 'e3'), (c) => c !== null, 'the cooldown to be given back');
  t.ok(taken, 'given back, the camera\'s next END is accepted');
  pushedOut!.giveBack();
  t.equal(await first.start(key, at + 3, cooldownMs, 'e4'), null, 'a late give-back of the old cooldown leaves the newer one');
  t.ok(await first.start(key, at + cooldownMs + 2, cooldownMs, 'e5'), 'after the cooldown, accepted');
});

t.test('every replica learns what became of the memos the others took: delivered, or dropped with the reason', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const { stream, nc, jsm } = await alertStream(t);
  const { kakao, token } = await standin(t);
  const options = { kakao: { cooldownSec: 600 } };
  const sides = [await writerSide(t, stream, kakao.url, token, options), await writerSide(t, stream, kakao.url, token, options)];
  // More than one replica's queue takes: both replicas take some.
  const fresh = Array.from({ length: QUEUE_MAX + 50 }, (_, i) => ({ ...endAlert(), session_id: `cam-${i}` }));
  const flapping = { ...endAlert(), session_id: 'cam-0' };
  const stale = { ...endAlert(), session_id: 'cam-stale', received_at_ms: Date.now() - 601_000 };
  await publish(nc, stream, [...fresh, stale]);
  await waitFor(() => consumerIdle(jsm, stream), 'the first alerts acknowledged');
  await publish(nc, stream, [flapping]);
  await waitFor(() => consumerIdle(jsm, stream), 'every alert acknowledged');

  const expected = new Map<string, Outcome>([
    ...fresh.map((a) => [a.event_id, { event_id: a.event_id, delivered: true, reason: null }] as const),
    [stale.event_id, { event_id: stale.event_id, delivered: false, reason: 'stale' }],
    [flapping.event_id, { event_id: flapping.event_id, delivered: false, reason: 'cooldown' }],
  ]);
  t.same(new Map(sides.flatMap((s) => s.outcomes).map((o) => [o.event_id, o])), expected, 'each alert settled once: the cooldown and the age held two back');
  t.ok(sides.every((s) => s.outcomes.length > 0), `both replicas took some (${sides.map((s) => s.outcomes.length).join(' + ')})`);
  for (const [i, side] of sides.entries()) {
    const known = await waitForValue(() => new Map([...side.outcomes, ...side.elsewhere].map((o) => [o.event_id, o])), (m) => m.size === expected.size, `replica ${i + 1} to learn every outcome`);
    t.same(known, expected, `replica ${i + 1} knows every memo's outcome, the other's with its reason`);
    t.equal(side.elsewhere.length, expected.size - side.outcomes.length, 'each of the other\'s once, none of its own');
  }
});

t.test('a server on the NATS store: before NATS answers its token check says where the tokens are; its watch page shows the memos other replicas send, for the ENDs it received and those it followed, pending and then delivered', async (t) => {
  if (!haveNatsServerBinary(t)) return;
  const nats = await startOwnNats(t);
  await nats.stop();
  const { kakao, token } = await standin(t);
  const stream = uniqueStream('ALERTS');
  const server = await startTestServer(t, {
    BACKEND_EVENT_STORE: 'nats', NATS_URL: nats.url, BACKEND_NATS_STREAM: stream,
    KAKAO_ACCESS_TOKEN: token, KAKAO_API_BASE_URL: kakao.url, KAKAO_AUTH_BASE_URL: kakao.url,
  });
  const tokenCheck = async () => (await server.client.get('/debug/kakao/token-check')).json;
  t.same(await tokenCheck(), { ok: false, err: 'the Kakao tokens are in the NATS store, which is not reachable yet' });

  await nats.start();
  await waitFor(async () => (await tokenCheck()).ok === true, 'the token check to pass once NATS answers');
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  // Kakao holds every memo: the server takes alerts until its queue is full, then pulls no more.
  const release = kakao.hold('memo');
  await publish(nc, stream, Array.from({ length: QUEUE_MAX }, endAlert));
  await waitFor(async () => (await jsm.consumers.info(stream, ALERT_CONSUMER)).num_ack_pending === QUEUE_MAX, 'the server to hold a full queue');
  const other = await writerSide(t, stream, kakao.url, token, { natsUrl: nats.url });

  const end = { type: 'END', event: 'fall', prob: 0.91, duration_sec: 5.45, ts: 1764405347.2, frame_idx: 7 };
  const posted = await server.client.post('/event/payload', { ...end, session_id: 'cam-received' });
  t.equal(posted.status, 200);
  const received = posted.json.event_id as string;
  // An END another replica received and stored, as its store does.
  const record = recordFromPayload({ ...end, session_id: 'cam-followed' }, 0);
  const h = headers();
  h.set(REPLICA_HEADER, 'replica-elsewhere');
  h.set(ALERT_HEADER, encodeAlert({ ...endAlert(), event_id: record.event_id, session_id: record.session_id }));
  await jetstream(nc).publish(alertSubject(stream), serializeRecord(record), { msgID: record.event_id, headers: h });
  const followed = record.event_id;

  const delivery = async (eventId: string) => ((await server.client.get(`/watch/api/event?id=${eventId}`)).json as { delivery?: { state: string } }).delivery?.state;
  await waitFor(async () => (await jsm.consumers.info(stream, ALERT_CONSUMER)).num_ack_pending === QUEUE_MAX + 2, 'the other replica to take both ENDs');
  t.equal(await delivery(received), 'pending', 'the END received here: pending while the other replica sends it');
  await waitFor(async () => (await delivery(followed)) !== undefined, 'the server to follow the other replica\'s END');
  t.equal(await delivery(followed), 'pending', 'the END followed: pending too');
  release();
  for (const eventId of [received, followed]) {
    await waitFor(async () => (await delivery(eventId)) === 'delivered', 'the server to show the memo delivered');
    t.same(other.outcomes.filter((o) => o.event_id === eventId), [{ event_id: eventId, delivered: true, reason: null }], 'sent by the other replica');
  }
});
