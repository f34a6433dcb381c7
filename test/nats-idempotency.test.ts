/**
 * Idempotency-Keys on the NATS store, shared by every replica: two servers on one stream answer a
 * key's repeats alike, whichever gets them and however they interleave, with one record and one
 * memo; another body is refused on the other replica; a write that failed on one replica is
 * written by its retry on the other. The bucket itself: a holder that dies is taken over after its
 * lease with its event_id, the cap drops the oldest key, and an unreachable NATS is unavailable.
 */
import { createHash } from 'node:crypto';
import t, { type Test } from 'tap';
import { connect } from '@nats-io/transport-node';
import { DiscardPolicy, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { IdempotencyConfig, NatsStoreConfig } from '../src/contracts/writer.js';
import { openEventStreamReader } from '../src/common/event-stream.js';
import { createLogger } from '../src/common/log.js';
import { ALERT_CONSUMER } from '../workers/writer/nats/alert-consumer.js';
import { NatsContext } from '../workers/writer/nats/context.js';
import { idempotencyBucketName, IdempotencyBucket, KEY_LEASE_MS } from '../workers/writer/nats/idempotency-bucket.js';
import { KakaoStandin } from './support/kakao-standin.js';
import { cleanUpStream, freePort, haveSharedNats, SHARED_NATS_URL, uniqueStream } from './support/nats.js';
import { startTestServer } from './support/server.js';
import { waitFor } from './support/wait.js';

const END = { type: 'END', ts: 1764405347.2, frame_idx: 1234, event: 'fall', prob: 0.91, duration_sec: 5.45, session_id: 'cam-1' };

t.test('two replicas share their keys: one record, one memo, the same answer from both', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const stream = uniqueStream('IDEM');
  cleanUpStream(t, stream);
  const kakao = await KakaoStandin.start();
  t.teardown(() => kakao.close());
  const env = {
    BACKEND_EVENT_STORE: 'nats', NATS_URL: SHARED_NATS_URL, BACKEND_NATS_STREAM: stream,
    KAKAO_API_BASE_URL: kakao.url, KAKAO_AUTH_BASE_URL: kakao.url, KAKAO_ACCESS_TOKEN: kakao.issueAccessToken(),
  };
  // The second refuses events over 1 KiB as a line: a write that fails there succeeds on the first.
  const [first, second] = await Promise.all([startTestServer(t, env), startTestServer(t, { ...env, BACKEND_EVENT_MAX_BYTES: '1024' })]);
  const post = (server: typeof first, body: unknown, key: string, path = '/event/payload') => server.client.post(path, body, { 'idempotency-key': key });

  const together = await Promise.all([post(first, END, 'end-1'), post(second, END, 'end-1')]);
  t.same(together.map((r) => r.status), [200, 200], 'both answered');
  t.equal(together[1]!.text, together[0]!.text, 'sent to both at once: the same event_id');
  const answer = together[0]!.text;
  for (const server of [first, second, first]) t.equal((await post(server, END, 'end-1')).text, answer, 'sent again, one after the other: the first answer');

  const changed = await post(second, { ...END, frame_idx: 99 }, 'end-1');
  t.equal(changed.status, 422, 'another body on the other replica');
  t.same(changed.json, { detail: 'this Idempotency-Key was already used with a different request' });
  t.equal((await post(second, { event: { event_type: 'zone', session_id: 'cam-1' } }, 'end-1', '/event')).status, 422, 'the other route');

  const big = { ...END, session_id: 'cam-big', state: 'x'.repeat(1500) };
  t.equal((await post(second, big, 'big-1')).status, 413, 'too large for the second replica: not written');
  const startedAt = Date.now();
  const retried = await post(first, big, 'big-1');
  t.equal(retried.status, 200, 'its retry on the first replica is written');
  t.ok(Date.now() - startedAt < KEY_LEASE_MS / 2, 'at once: the failed write let its key go before its lease ran out');
  t.equal((await post(second, big, 'big-1')).text, retried.text, 'a repeat on the second gets that answer, though it could not write it');

  const records = await storedRecords(stream);
  t.same(records.map((r) => [r.session_id, r.event_id]), [['cam-1', together[0]!.json.event_id], ['cam-big', retried.json.event_id]], 'one record per key');
  await waitFor(() => kakao.deliveredMemos().length >= 2, 'the memos of both ENDs');
  await waitFor(async () => (await alertsPending(stream)) === 0, 'every alert settled');
  t.equal(kakao.deliveredMemos().length, 2, 'one memo per END');
});

t.test('the bucket: a repeat waits for the holder, a dead holder is taken over after its lease with its event_id, the cap, an unreachable NATS', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const stream = uniqueStream('IDEM');
  cleanUpStream(t, stream);
  const settings: IdempotencyConfig = { windowSec: 3600, maxKeys: 3 };
  const leaseMs = 1000;
  const [dead, alive] = await Promise.all([openBucket(t, storeConfig(stream, 'dead'), settings, leaseMs), openBucket(t, storeConfig(stream, 'alive'), settings, leaseMs)]);

  const writing = await alive.claim('live', 'body', 'id-live');
  t.match(writing, { kind: 'write', eventId: 'id-live' }, 'the first claim writes');
  const waiting = dead.claim('live', 'body', 'id-other');
  alive.settle('live', 'body', (writing as { revision: number }).revision, 'id-live', true);
  t.same(await waiting, { kind: 'answer', eventId: 'id-live' }, 'a repeat while it is written gets its answer once written');

  const held = await dead.claim('k', 'body', 'id-dead');
  t.match(held, { kind: 'write', eventId: 'id-dead' });
  const startedAt = Date.now();
  const taken = await alive.claim('k', 'body', 'id-alive');
  t.ok(Date.now() - startedAt >= leaseMs - 50, 'a repeat of a key whose holder died waits for its lease');
  t.match(taken, { kind: 'write', eventId: 'id-dead' }, 'then takes it over, writing with the holder\'s event_id');
  if (taken.kind !== 'write') return;
  dead.settle('k', 'body', (held as { revision: number }).revision, 'id-dead', true);
  alive.settle('k', 'body', taken.revision, 'id-dead', true);
  await alive.close();
  t.same(await dead.claim('k', 'body', 'id-3'), { kind: 'answer', eventId: 'id-dead' }, 'settled by its taker; the dead holder\'s late settle changed nothing');
  t.same(await dead.claim('k', 'other body', 'id-4'), { kind: 'reused' });

  for (const key of ['k2', 'k3']) t.match(await dead.claim(key, 'body', `id-${key}`), { kind: 'write' });
  t.match(await dead.claim('live', 'other body', 'id-5'), { kind: 'write' }, `past ${settings.maxKeys} keys the oldest is forgotten`);
  const config = await bucketStreamConfig(stream);
  t.same(config, { max_msgs: settings.maxKeys, max_age: settings.windowSec * 1e9, discard: DiscardPolicy.Old }, 'the bucket\'s limits are the settings');

  const unreachable = new NatsContext({ config: { ...storeConfig(stream, 'lost'), servers: [`nats://127.0.0.1:${await freePort()}`] }, logger: silent, onHealth: () => {} });
  t.teardown(() => unreachable.close());
  await unreachable.start();
  t.match(await new IdempotencyBucket(unreachable, settings).claim('k', 'body', 'id-6'), { kind: 'unavailable', reason: /unreachable/ }, 'NATS unreachable: unavailable, with the reason');
});

t.test('the bucket: an entry that is no key entry (written by something else) is taken over at once, not waited on', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const stream = uniqueStream('IDEM');
  cleanUpStream(t, stream);
  const bucket = await openBucket(t, storeConfig(stream, 'replica'), { windowSec: 3600, maxKeys: 100 }, 1000);
  t.match(await bucket.claim('first', 'body', 'id-first'), { kind: 'write' }, 'the bucket made');
  const nc = await connect({ servers: SHARED_NATS_URL });
  t.teardown(() => nc.close());
  const kv = await new Kvm(nc).open(idempotencyBucketName(stream));
  const entryKey = (key: string) => createHash('sha256').update(key).digest('base64url');
  await kv.put(entryKey('no-lease'), JSON.stringify({ fingerprint: 'body', state: 'pending', event_id: 'id-old' }));
  await kv.put(entryKey('not-json'), 'pending');
  for (const key of ['no-lease', 'not-json']) {
    const claim = await Promise.race([bucket.claim(key, 'body', 'id-new'), new Promise((resolve) => setTimeout(resolve, 5000, 'still waiting'))]);
    t.match(claim, { kind: 'write', eventId: 'id-new' }, `${key}: taken over, with the claim's own event_id`);
  }
});

const silent = createLogger('silent');

function storeConfig(stream: string, replicaId: string): NatsStoreConfig {
  return { servers: [SHARED_NATS_URL], stream, replicas: 1, maxAgeSec: 0, maxBytes: 0, replicaId };
}

async function openBucket(t: Test, config: NatsStoreConfig, settings: IdempotencyConfig, leaseMs: number): Promise<IdempotencyBucket> {
  const context = new NatsContext({ config, logger: silent, onHealth: () => {} });
  await context.start();
  const bucket = new IdempotencyBucket(context, settings, leaseMs);
  t.teardown(async () => {
    await bucket.close();
    await context.close();
  });
  return bucket;
}

async function withJsm<T>(use: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: SHARED_NATS_URL });
  try {
    return await use(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

async function bucketStreamConfig(stream: string) {
  const { config } = await withJsm((jsm) => jsm.streams.info(`KV_${idempotencyBucketName(stream)}`));
  return { max_msgs: config.max_msgs, max_age: config.max_age, discard: config.discard };
}

/** Alerts not acknowledged yet: waiting in the stream, and in some replica's hands. */
async function alertsPending(stream: string): Promise<number> {
  const info = await withJsm((jsm) => jsm.consumers.info(stream, ALERT_CONSUMER));
  return info.num_pending + info.num_ack_pending;
}

/** Every record in the stream, oldest first. */
async function storedRecords(stream: string): Promise<{ session_id: string; event_id: string }[]> {
  const reader = await openEventStreamReader([SHARED_NATS_URL], stream);
  try {
    const { first, last } = await reader.bounds();
    const records = [];
    for await (const { line } of reader.read(first, last)) records.push(JSON.parse(line) as { session_id: string; event_id: string });
    return records;
  } finally {
    await reader.close();
  }
}
