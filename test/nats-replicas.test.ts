/**
 * Three server processes sharing one NATS stream (BACKEND_EVENT_STORE=nats), as replicas behind a
 * load balancer, all posted to at once: each event is stored once, every replica lists the same
 * recent events, and each END sends one memo, from whichever replica takes it. One replica, whose
 * Kakao never answers, holds memos when it is killed with SIGKILL in the middle of the load: every
 * event acknowledged is stored, and the memos it held are sent by the others.
 */
import t, { type Test } from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { openEventStreamReader } from '../src/common/event-stream.js';
import { ALERT_CONSUMER } from '../workers/writer/nats/alert-consumer.js';
import { inParallel } from './support/event-http.js';
import { jsonClient, type JsonClient } from './support/json-client.js';
import { KakaoStandin } from './support/kakao-standin.js';
import { cleanUpStream, haveSharedNats, SHARED_NATS_URL, uniqueStream } from './support/nats.js';
import { spawnServer, tempDir, testEnv, type ChildServer } from './support/server.js';
import { waitFor, waitForValue } from './support/wait.js';

const EVENTS_PER_PHASE = 1500;
/** One event in this many is an END. */
const END_EVERY = 10;
const PUBLIC_URL = 'http://watch.test';
const PAGE_BASE = `${PUBLIC_URL}/watch/events/`;

interface Replica {
  child: ChildServer;
  client: JsonClient;
}

interface StoredRecord {
  event_type: string;
  event_id: string;
}

t.test('three replicas on one stream: events stored once, the same recent list everywhere, one memo per END, a replica killed mid-load loses nothing', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const stream = uniqueStream('REPLICAS');
  cleanUpStream(t, stream);
  const kakao = await KakaoStandin.start();
  t.teardown(() => kakao.close());
  // The doomed replica's Kakao takes memos and never answers: it holds every memo it takes.
  const silent = await KakaoStandin.start();
  t.teardown(() => silent.close());
  silent.hold('memo');
  const token = kakao.issueAccessToken();
  const start = async (kakaoUrl: string): Promise<Replica> => {
    const dir = tempDir();
    const child = spawnServer(testEnv(dir, {
      BACKEND_EVENT_STORE: 'nats', NATS_URL: SHARED_NATS_URL, BACKEND_NATS_STREAM: stream, BACKEND_LOG_LEVEL: 'info',
      KAKAO_API_BASE_URL: kakaoUrl, KAKAO_AUTH_BASE_URL: kakaoUrl, KAKAO_ACCESS_TOKEN: token, BACKEND_PUBLIC_URL: PUBLIC_URL,
    }), dir);
    t.teardown(async () => {
      child.proc.kill('SIGTERM');
      await child.exited;
    });
    return { child, client: jsonClient(t, `http://127.0.0.1:${await child.listening}`, 16) };
  };
  const replicas = await Promise.all([start(kakao.url), start(kakao.url), start(silent.url)]);
  const [first, second, doomed] = replicas as [Replica, Replica, Replica];

  // Phase one: every replica up.
  const acked = await postEvents(replicas, 0);
  t.equal(acked.length, EVENTS_PER_PHASE, 'every event acknowledged');
  let stored = await storedRecords(stream);
  t.equal(stored.length, EVENTS_PER_PHASE, 'as many records in the stream');
  t.same(new Set(stored.map((r) => r.event_id)), new Set(acked), 'each acknowledged event stored once');
  await sameRecentEverywhere(t, replicas, stored);
  await waitFor(() => silent.requestsTo('memo').length > 0, 'the doomed replica to hold memos');
  t.comment(`alerts unacknowledged before the kill (the doomed replica's, at most its queue): ${await alertsPending(stream)}`);

  // Phase two: the doomed replica is killed halfway through.
  let killedAt = 0;
  const acked2 = await postEvents(replicas, EVENTS_PER_PHASE, () => {
    doomed.child.proc.kill('SIGKILL');
    killedAt = Date.now();
  });
  t.ok(acked2.length >= EVENTS_PER_PHASE * 2 / 3, `the two others kept acknowledging (${acked2.length} of ${EVENTS_PER_PHASE})`);
  stored = await storedRecords(stream);
  const storedIds = stored.map((r) => r.event_id);
  t.equal(new Set(storedIds).size, storedIds.length, `no event_id twice among ${storedIds.length} records`);
  const missing = [...acked, ...acked2].filter((id) => !storedIds.includes(id));
  t.same(missing, [], 'every acknowledged event is stored');
  t.comment(`${storedIds.length - acked.length - acked2.length} events stored whose acknowledgement the killed replica never sent`);
  await sameRecentEverywhere(t, [first, second], stored);

  const ends = stored.filter((r) => r.event_type === 'END').map((r) => r.event_id);
  await waitForValue(() => memoEventIds(kakao).length, (n) => n >= ends.length, `a memo for each of the ${ends.length} ENDs`, 120_000);
  t.comment(`every END's memo sent ${Date.now() - killedAt} ms after the kill (the killed replica's Kakao had ${silent.requestsTo('memo').length} of its memos unanswered)`);
  await waitFor(() => alertsSettled(stream), 'every alert acknowledged');
  const memos = memoEventIds(kakao);
  t.equal(memos.length, ends.length, 'one memo per END: none twice');
  t.same(new Set(memos), new Set(ends), 'every END\'s memo, the killed replica\'s too');
  // Every replica shows each memo's outcome on its watch page, whichever replica sent it.
  const delivered = async (replica: Replica, id: string) =>
    ((await replica.client.get(`/watch/api/event?id=${id}`)).json as { delivery?: { state: string } }).delivery?.state === 'delivered';
  const unshown = await waitForValue(async () => {
    const shown = await Promise.all(ends.map(async (id) => (await delivered(first, id)) && (await delivered(second, id))));
    return ends.filter((_, i) => !shown[i]);
  }, (left) => left.length === 0, 'each memo\'s outcome on the watch page of both replicas left');
  t.same(unshown, [], 'each memo\'s outcome shown on every replica');
});

/**
 * Posts EVENTS_PER_PHASE events spread over the replicas, many at once; `halfway` runs when half
 * are posted. Resolves with the event_ids acknowledged (a killed replica's answers never come).
 */
async function postEvents(replicas: Replica[], from: number, halfway?: () => void): Promise<string[]> {
  const acked: string[] = [];
  const numbers = Array.from({ length: EVENTS_PER_PHASE }, (_, i) => from + i);
  await inParallel(numbers, 48, async (n) => {
    if (n - from === EVENTS_PER_PHASE / 2) halfway?.();
    const end = { type: 'END', event: 'fall', prob: 0.91, duration_sec: 5.45, ts: 1764405347.2, frame_idx: n, session_id: `cam-${n % 16}` };
    const body = n % END_EVERY === 0 ? end : { ...end, type: 'HEARTBEAT' };
    const res = await replicas[n % replicas.length]!.client.post('/event/payload', body).catch(() => null);
    if (res?.status === 200) acked.push(res.json.event_id as string);
  });
  return acked;
}

/**
 * Waits until every replica's recent list is the stream's last records in the stream's order: each
 * replica lists its own records as they are acknowledged and the others' as it follows them, in
 * any interleaving, and places them by stream sequence.
 */
async function sameRecentEverywhere(t: Test, replicas: Replica[], stored: StoredRecord[]): Promise<void> {
  const limit = 200;
  const expected = stored.slice(-limit).map((r) => r.event_id).join();
  const recent = async (replica: Replica) => ((await replica.client.get(`/event/recent?limit=${limit}`)).json as StoredRecord[]).map((r) => r.event_id).join();
  const lists = await waitForValue(() => Promise.all(replicas.map(recent)), (all) => all.every((ids) => ids === expected),
    `every replica's last ${limit} recent events in the stream's order`, 10_000);
  t.equal(new Set(lists).size, 1, `every replica lists the same ${limit} recent events, in the stream's order`);
}

/** Every record in the stream, oldest first (its type and event_id). */
async function storedRecords(stream: string): Promise<StoredRecord[]> {
  const reader = await openEventStreamReader([SHARED_NATS_URL], stream);
  try {
    const { first, last } = await reader.bounds();
    const records: StoredRecord[] = [];
    for await (const { line } of reader.read(first, last)) records.push(JSON.parse(line) as StoredRecord);
    return records;
  } finally {
    await reader.close();
  }
}

/** Alerts not acknowledged yet: waiting in the stream, and in some replica's hands. */
async function alertsPending(stream: string): Promise<number> {
  const nc = await connect({ servers: SHARED_NATS_URL });
  try {
    const info = await (await jetstreamManager(nc)).consumers.info(stream, ALERT_CONSUMER);
    return info.num_pending + info.num_ack_pending;
  } finally {
    await nc.close();
  }
}

async function alertsSettled(stream: string): Promise<boolean> {
  return (await alertsPending(stream)) === 0;
}

/** The event_id of every memo Kakao delivered (the button opens the event's page). */
function memoEventIds(kakao: KakaoStandin): string[] {
  return kakao.requestsTo('memo').filter((r) => r.status === 200)
    .map((r) => String((r.template?.link as { web_url?: string } | undefined)?.web_url).slice(PAGE_BASE.length));
}
