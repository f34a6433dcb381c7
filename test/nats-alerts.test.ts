/**
 * END memos through the NATS store's shared consumer, on the shared NATS and the Kakao stand-in:
 * each writer side here is what a replica's writer thread runs (KakaoClient, KakaoTokens,
 * KakaoAlerts, AlertConsumer) with a connection of its own. Alerts published to `<stream>.alert`
 * are sent once each by two replicas together; a replica stopped abruptly while holding alerts has
 * them sent by another after the ack wait and the claims' lease; one closing hands its alerts back
 * at once; an alert redelivered after its claim says sent is not sent again; a replica never holds
 * more than its queue takes; a replica started while NATS is down takes alerts once it answers,
 * those stored before its consumer existed included, and goes on after NATS restarts; a consumer
 * with other settings is refused.
 */
import t, { type Test } from 'tap';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { AlertRequest, NatsStoreConfig } from '../src/contracts/writer.js';
import { ALERT_HEADER, alertSubject, encodeAlert } from '../src/common/event-stream.js';
import { createLogger } from '../src/common/log.js';
import { KakaoAlerts, QUEUE_MAX } from '../workers/writer/kakao-alerts.js';
import { KakaoClient } from '../workers/writer/kakao-client.js';
import { KakaoTokens } from '../workers/writer/kakao-tokens.js';
import { AlertClaims, CLAIM_LEASE_MS } from '../workers/writer/nats/alert-claims.js';
import { ACK_WAIT_MS, ALERT_CONSUMER } from '../workers/writer/nats/alert-consumer.js';
import { AlertReplica } from '../workers/writer/nats/alert-replica.js';
import { NatsContext } from '../workers/writer/nats/context.js';
import { ensureStream } from '../workers/writer/nats/stream-setup.js';
import { closedPort } from './support/event-http.js';
import { captureLogger, eventOptions } from './support/event-options.js';
import { KakaoStandin } from './support/kakao-standin.js';
import { cleanUpStream, haveNatsServerBinary, haveSharedNats, SHARED_NATS_URL, startOwnNats, uniqueStream } from './support/nats.js';
import { tempDir } from './support/temp-dir.js';
import { waitFor } from './support/wait.js';

const PAGE_BASE = 'http://watch.test/watch/events/';

interface Outcome { event_id: string; delivered: boolean; reason: string | null }

interface WriterSide {
  outcomes: Outcome[];
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

let replicas = 0;
/** A replica's writer thread as far as memos go: the NATS context, Kakao's client, tokens and alerts, and AlertReplica. */
async function writerSide(t: Test, stream: string, kakaoUrl: string, accessToken: string, natsUrl = SHARED_NATS_URL): Promise<WriterSide> {
  const { logger, records } = captureLogger();
  const context = new NatsContext({ config: natsConfig(stream, `replica-${++replicas}`, natsUrl), logger, onHealth: () => {} });
  await context.start();
  const config = eventOptions(tempDir(), { kakao: { accessToken, apiBaseUrl: kakaoUrl, authBaseUrl: kakaoUrl, eventPageBase: PAGE_BASE } }).kakao;
  const client = new KakaoClient(config);
  const report = () => {};
  const tokens = new KakaoTokens({ config, client, logger, report });
  const outcomes: Outcome[] = [];
  let replica: AlertReplica | null = null;
  const alerts = new KakaoAlerts({
    config, client, tokens, logger, report,
    outcome: (alert, delivered, reason) => {
      outcomes.push({ event_id: alert.event_id, delivered, reason });
      replica?.settle(alert, delivered, reason);
    },
  });
  replica = new AlertReplica({ context, tokens, alerts, kakao: config, logger });
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
    outcomes,
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
  await claims.finish(alert.event_id, claim.revision, 'sent');
  await dying.close();

  const side = await writerSide(t, stream, kakao.url, token);
  await waitFor(() => consumerIdle(jsm, stream), 'the redelivered alert to be acknowledged');
  t.equal(kakao.requestsTo('memo').length, 0, 'no memo');
  t.same(side.outcomes, [], 'no outcome: the replica that sent it reported it');
  t.ok(side.logs.some((r) => /not sent again/.test(String(r.msg)) && r.event_id === alert.event_id), 'the redelivery was seen');
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
  const side = await writerSide(t, stream, kakao.url, token, nats.url);
  t.ok(side.logs.some((r) => /start once NATS answers/.test(String(r.msg))), 'the replica waits for NATS');

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
  const side = await writerSide(t, stream, kakao.url, token, nats.url);
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
