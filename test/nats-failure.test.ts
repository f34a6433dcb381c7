/**
 * The NATS event store when NATS fails, on nats-server processes of the test's own: unreachable at
 * start (the server starts not ready, refuses events with 503 and recovers by itself), lost under
 * load and started again (503s meanwhile, nothing acknowledged lost), and a three-node cluster
 * losing its stream leader under load (writes go on after an election, nothing acknowledged lost);
 * a stream that disagrees with the settings, found only once NATS answers, keeps the store unusable.
 */
import t from 'tap';
import { jetstream, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import { alertSubject, openEventStreamReader, recordSubject, REPLICA_HEADER } from '../src/common/event-stream.js';
import { createLogger } from '../src/common/log.js';
import { recordFromPayload, serializeRecord } from '../src/events/records.js';
import { NatsContext } from '../workers/writer/nats/context.js';
import { haveNatsServerBinary, startOwnNats, startOwnNatsCluster, uniqueStream } from './support/nats.js';
import { startTestServer, type TestServer } from './support/server.js';
import { waitFor, waitForValue } from './support/wait.js';

interface Answer {
  status: number;
  eventId: string | null;
  retryAfter: string | undefined;
  /** A refusal's reason. */
  detail: string | null;
}

/**
 * POSTs from `lanes` concurrent clients until stop() (each lane waits for its answer before the
 * next, with a short pause after a refusal, as an agent would).
 */
function load(server: TestServer, lanes: number) {
  const answers: Answer[] = [];
  let running = true;
  const lane = async (n: number) => {
    while (running) {
      const res = await server.client.post('/event/payload', { type: 'PROBS', session_id: `cam-${n}`, top_event: 'fall', top_prob: 0.5 });
      const ok = res.status === 200;
      answers.push({ status: res.status, eventId: ok ? res.json.event_id : null, retryAfter: res.headers['retry-after'] as string | undefined, detail: ok ? null : String(res.json?.detail) });
      if (res.status !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const done = Promise.all(Array.from({ length: lanes }, (_, n) => lane(n)));
  return {
    answers,
    ok: () => answers.filter((a) => a.status === 200).length,
    refused: () => answers.filter((a) => a.status !== 200).length,
    stop: async () => {
      running = false;
      await done;
      return answers;
    },
  };
}

/** The refusals' reasons with their counts (ports taken out), for the test's diagnostics. */
function refusalReasons(answers: readonly Answer[]): string {
  const counts = new Map<string, number>();
  for (const { detail } of answers) {
    if (detail === null) continue;
    const reason = detail.replace(/:\d+/g, ':…');
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return [...counts].map(([reason, n]) => `${n} × ${reason}`).join('; ') || 'none';
}

/** Every event_id the stream holds, read through the same reader the events CLI uses. */
async function storedIds(servers: string, stream: string): Promise<Set<string>> {
  const reader = await openEventStreamReader(servers.split(','), stream);
  try {
    const bounds = await reader.bounds();
    const ids = new Set<string>();
    if (bounds.count > 0) for await (const record of reader.read(bounds.first, bounds.last)) ids.add((JSON.parse(record.line) as { event_id: string }).event_id);
    return ids;
  } finally {
    await reader.close();
  }
}

const ready = (server: TestServer) => waitForValue(() => server.client.get('/ready'), (res) => res.status === 200, 'the server to be ready');

if (haveNatsServerBinary(t)) {
  t.test('NATS unreachable at start, then lost under load: 503s meanwhile, recovery without a restart, nothing acknowledged lost', async (t) => {
    const nats = await startOwnNats(t);
    await nats.stop();
    const stream = uniqueStream();
    const server = await startTestServer(t, { BACKEND_EVENT_STORE: 'nats', NATS_URL: nats.url, BACKEND_NATS_STREAM: stream });

    const notReady = await server.client.get('/ready');
    t.equal(notReady.status, 503, 'the server starts, not ready');
    t.equal(notReady.json.status, 'not_ready', 'not_ready');
    t.match(notReady.json.reasons, [`NATS at ${nats.url} is unreachable: `], 'the reason names NATS and why');
    const refused = await server.client.post('/event/payload', { type: 'START', event: 'fall', session_id: 'cam-1' });
    t.equal(refused.status, 503, 'events are refused');
    t.equal(refused.headers['retry-after'], '5', 'with Retry-After');
    t.match(refused.json.detail, 'is unreachable', 'the refusal says why');

    await nats.start();
    await ready(server);
    t.pass('ready once NATS answers, without a restart');

    const traffic = load(server, 16);
    await waitFor(() => traffic.ok() >= 300, 'answers before NATS is stopped');
    await nats.stop();
    const refusedBefore = traffic.refused();
    await waitFor(() => traffic.refused() >= refusedBefore + 50, 'refusals while NATS is down');
    const lost = await server.client.get('/ready');
    t.equal(lost.status, 503, 'not ready while NATS is down');
    t.match(lost.json.reasons, [/lost the connection|unreachable/], 'the reason: NATS is lost');
    await nats.start();
    await ready(server);
    const okAfter = traffic.ok();
    await waitFor(() => traffic.ok() >= okAfter + 300, 'answers after NATS is back');
    const answers = await traffic.stop();

    const refusals = answers.filter((a) => a.status !== 200);
    t.comment(`refusals: ${refusalReasons(refusals)}`);
    t.ok(refusals.length > 0 && refusals.every((a) => a.status === 503 && a.retryAfter !== undefined), `every refusal a 503 with Retry-After (${refusals.length} of ${answers.length})`);
    const acknowledged = answers.filter((a) => a.status === 200).map((a) => a.eventId!);
    const stored = await storedIds(nats.url, stream);
    t.same(acknowledged.filter((id) => !stored.has(id)), [], `all ${acknowledged.length} acknowledged events are in the stream`);

    // Following resumed after the reconnection: a record another replica stores now is listed.
    const nc = await connect({ servers: nats.url });
    t.teardown(() => nc.close());
    const other = recordFromPayload({ type: 'START', event: 'fall', session_id: 'cam-other' }, Date.now() / 1000);
    const head = headers();
    head.set(REPLICA_HEADER, 'another-replica');
    await jetstream(nc).publish(recordSubject(stream), serializeRecord(other), { headers: head, msgID: other.event_id });
    await waitFor(async () => (await server.client.get('/event/recent?limit=5')).text.includes(other.event_id), 'a record of another replica in /event/recent');
    t.pass('records of other replicas are followed after NATS came back');
  });

  t.test('a three-node cluster loses the stream leader under load: writes go on, nothing acknowledged lost', async (t) => {
    const cluster = await startOwnNatsCluster(t);
    const stream = uniqueStream();
    const server = await startTestServer(t, { BACKEND_EVENT_STORE: 'nats', NATS_URL: cluster.url, BACKEND_NATS_STREAM: stream, BACKEND_NATS_REPLICAS: '3' });
    await ready(server);

    const nc = await connect({ servers: cluster.url.split(',') });
    t.teardown(() => nc.close());
    const jsm = await jetstreamManager(nc);
    const leader = (await jsm.streams.info(stream)).cluster?.leader;
    const node = cluster.nodes.find((_, i) => leader === `node-${i}`);
    t.ok(node, `the stream has a leader (${leader})`);

    const traffic = load(server, 16);
    await waitFor(() => traffic.ok() >= 300, 'answers before the leader is stopped');
    const stoppedAt = traffic.answers.length;
    await node!.stop();
    await waitFor(() => traffic.ok() >= 300 + 300, 'answers after the leader is stopped');
    const answers = await traffic.stop();

    const after = answers.slice(stoppedAt);
    const okAfter = after.filter((a) => a.status === 200).length;
    t.ok(okAfter > after.length / 2, `most answers after the stop are 200 (${okAfter} of ${after.length})`);
    const info = await waitForValue(() => jsm.streams.info(stream).catch(() => null), (i) => i !== null, 'the stream\'s info');
    t.not(info?.cluster?.leader, leader, 'another node leads the stream');
    t.comment(`refusals after the stop: ${refusalReasons(after)}`);
    const acknowledged = answers.filter((a) => a.status === 200).map((a) => a.eventId!);
    // A read creates a consumer, which needs the cluster's JetStream leader: it may still be elected.
    const stored = await waitForValue(() => storedIds(cluster.url, stream).catch(() => null), (ids) => ids !== null, 'the stream to be readable') as Set<string>;
    t.same(acknowledged.filter((id) => !stored.has(id)), [], `all ${acknowledged.length} acknowledged events are in the stream`);
  });

  t.test('NATS reachable only later with a stream that disagrees: not ready, with the disagreement as the reason', async (t) => {
    const nats = await startOwnNats(t);
    const stream = uniqueStream();
    const nc = await connect({ servers: nats.url });
    await (await jetstreamManager(nc)).streams.add({ name: stream, subjects: [recordSubject(stream), alertSubject(stream)], retention: RetentionPolicy.Workqueue });
    await nc.close();
    await nats.stop();
    const problems: (string | null)[] = [];
    const config = { servers: [nats.url], stream, replicas: 1, maxAgeSec: 0, maxBytes: 0, replicaId: 'late' };
    const context = new NatsContext({ config, logger: createLogger('silent'), onHealth: (problem) => problems.push(problem) });
    t.teardown(() => context.close());
    await context.start();
    t.match(context.problem(), 'is unreachable', 'unreachable at start: no refusal yet');
    await nats.start();
    await waitFor(() => context.problem() !== problems[0], 'the stream to be checked');
    t.equal(context.problem(), `NATS stream ${stream} has retention workqueue, but the event store needs retention limits: use another stream name, or remove the stream`, 'the disagreement is the reason (as /ready reports it)');
    t.equal(context.usable(), false, 'appends are refused');
  });
}

