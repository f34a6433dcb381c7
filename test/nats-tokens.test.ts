/**
 * Kakao tokens shared by replicas through a KV bucket on the shared NATS: each replica here is a
 * KakaoTokens with a connection of its own, all on one Kakao (in memory) that rotates the refresh
 * token on every refresh and refuses any but the newest. Concurrent expiry makes one refresh and
 * every replica uses its access token; a replica follows refreshes made by another; a refresher
 * that dies holding the lock blocks the others for its lease only; the environment's tokens seed
 * the bucket when it is empty or when KAKAO_REFRESH_TOKEN changed.
 */
import t, { type Test } from 'tap';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import type { KakaoConfig } from '../src/contracts/writer.js';
import type { KakaoReply } from '../workers/writer/kakao-client.js';
import type { SavedTokens } from '../workers/writer/kakao-token-store.js';
import { KakaoTokens } from '../workers/writer/kakao-tokens.js';
import { TokenBucket, tokenBucketName } from '../workers/writer/nats/token-bucket.js';
import { captureLogger, eventOptions } from './support/event-options.js';
import { fail, FakeKakaoClient, ok, Reports } from './support/kakao-fakes.js';
import { cleanUpStream, haveSharedNats, SHARED_NATS_URL, uniqueStream } from './support/nats.js';
import { tempDir } from './support/temp-dir.js';
import { waitFor } from './support/wait.js';

const REFRESHABLE = { accessToken: 'access-env', restApiKey: 'rest-api-key', refreshToken: 'refresh-env' };
const INVALID_GRANT = fail('invalid_grant', 'KOE322', 'expired_or_invalid_refresh_token');

/** Kakao rotating the refresh token on every refresh; a used or older one is refused (KOE322). */
class RotatingKakao extends FakeKakaoClient {
  /** The one refresh token Kakao takes; null while a refresh with it is under way (it is used up). */
  newest: string | null;
  /** While set, refreshes wait here before Kakao has seen them. */
  gate: Promise<void> | null = null;
  /** Refreshes that have reached the gate. */
  gated = 0;

  constructor(first: string) {
    super();
    this.rotate = true;
    this.newest = first;
  }

  override async refresh(clientId: string, refreshToken: string): Promise<KakaoReply> {
    if (this.gate) {
      this.gated++;
      await this.gate;
    }
    if (refreshToken !== this.newest) {
      this.calls.push({ endpoint: 'refresh', token: refreshToken });
      return INVALID_GRANT;
    }
    this.newest = null;
    const reply = await super.refresh(clientId, refreshToken);
    this.newest = reply.ok ? (reply.body.refresh_token as string) : refreshToken;
    return reply;
  }
}

interface Replica {
  tokens: KakaoTokens;
  /** A memo through the token layer, as the alerts send it. */
  memo(): Promise<KakaoReply>;
  /** The access token a memo would be sent with now (Kakao not called). */
  accessToken(): Promise<string>;
  /** Dies: the connection is dropped, nothing is let go of. */
  kill(): Promise<void>;
  logs: Array<Record<string, unknown>>;
}

async function replicaOn(t: Test, stream: string, kakao: FakeKakaoClient, options: { kakao?: Partial<KakaoConfig>; leaseMs?: number } = {}): Promise<Replica> {
  const nc = await connect({ servers: SHARED_NATS_URL });
  const { logger, records } = captureLogger();
  const bucket = await TokenBucket.open({ kvm: new Kvm(nc), stream, replicas: 1, replicaId: `replica-${Math.random()}`, leaseMs: options.leaseMs ?? 10_000, logger });
  const config = eventOptions(tempDir(), { kakao: options.kakao ?? REFRESHABLE }).kakao;
  const tokens = new KakaoTokens({ config, client: kakao, logger, report: new Reports().report });
  await tokens.load(bucket);
  let dead = false;
  t.teardown(async () => {
    if (dead) return;
    tokens.close();
    await bucket.close();
    await nc.close();
  });
  return {
    tokens,
    memo: () => tokens.authorized((token) => kakao.sendMemo(token, JSON.stringify({ text: 'memo' }))),
    accessToken: async () => {
      let seen = '';
      await tokens.authorized(async (token) => { seen = token; return ok({}); });
      return seen;
    },
    async kill() {
      dead = true;
      tokens.close();
      await nc.close();
    },
    logs: records,
  };
}

/** The tokens the bucket holds, read with a connection of the test's own. */
async function bucketTokens(stream: string): Promise<SavedTokens | null> {
  const nc = await connect({ servers: SHARED_NATS_URL });
  try {
    const entry = await (await new Kvm(nc).open(tokenBucketName(stream))).get('tokens');
    return entry?.operation === 'PUT' ? entry.json<SavedTokens>() : null;
  } finally {
    await nc.close();
  }
}

t.test('concurrent expiry on two replicas: one refresh, both use its access token, the bucket holds the rotated refresh token', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const stream = uniqueStream('TOKENS');
  cleanUpStream(t, stream);
  const kakao = new RotatingKakao('refresh-env');
  const [a, b] = [await replicaOn(t, stream, kakao), await replicaOn(t, stream, kakao)];
  t.match(await bucketTokens(stream), { access_token: 'access-env', refresh_token: 'refresh-env' }, 'the first replica seeded the empty bucket');

  // Kakao accepts no token yet: 'access-env' has expired for both at once.
  const replies = await Promise.all([a.memo(), b.memo(), a.memo(), b.memo()]);
  t.ok(replies.every((r) => r.ok), 'every memo went through on its retry');
  t.equal(kakao.callsTo('refresh').length, 1, 'one refresh between the two replicas');
  t.same(kakao.callsTo('memo').map((c) => c.token).sort(), [...Array(4).fill('access-env'), ...Array(4).fill('access-issued-1')]);
  t.match(await bucketTokens(stream), { access_token: 'access-issued-1', refresh_token: 'refresh-issued-1' });
  t.equal(kakao.newest, 'refresh-issued-1');

  // The next expiry, met by one replica: the other follows through the bucket without asking Kakao.
  kakao.accepted.clear();
  t.ok((await a.memo()).ok);
  await waitFor(async () => (await b.accessToken()) === 'access-issued-2', 'the other replica to take the new access token');
  t.ok((await b.memo()).ok);
  t.equal(kakao.callsTo('refresh').length, 2);
  t.match(await bucketTokens(stream), { refresh_token: 'refresh-issued-2' });
  t.match(b.tokens.info(), { source: 'bucket' });
  t.ok([...a.logs, ...b.logs].some((r) => /refreshed/.test(String(r.msg))), 'the refreshes were logged');
  t.notMatch(JSON.stringify([...a.logs, ...b.logs]), /access-(env|issued)|refresh-(env|issued)/, 'no token in any log line');
});

t.test('a refresher that dies holding the lock blocks the other replica for its lease only', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const stream = uniqueStream('TOKENS');
  cleanUpStream(t, stream);
  const kakao = new RotatingKakao('refresh-env');
  const leaseMs = 1500;
  const [a, b] = [await replicaOn(t, stream, kakao, { leaseMs }), await replicaOn(t, stream, kakao, { leaseMs })];
  let open!: () => void;
  kakao.gate = new Promise((resolve) => { open = resolve; });

  void a.memo();
  // a holds the lock and its refresh waits before Kakao has seen it; then a dies.
  await waitFor(() => kakao.gated === 1, 'the first replica to take the lock and refresh');
  const lockedAt = Date.now();
  await a.kill();
  kakao.gate = null;

  const reply = await b.memo();
  const waited = Date.now() - lockedAt;
  t.ok(reply.ok, 'the other replica refreshed and sent');
  t.ok(waited >= leaseMs - 200, `it waited for the lease first (${waited} ms)`);
  t.ok(waited < leaseMs + 5000, `and not much longer (${waited} ms)`);
  t.same(kakao.callsTo('refresh').map((c) => c.token), ['refresh-env'], 'the dead replica\'s refresh never reached Kakao');
  t.match(await bucketTokens(stream), { refresh_token: kakao.newest });

  open();
  await new Promise((resolve) => setImmediate(resolve));
  t.match(await bucketTokens(stream), { refresh_token: kakao.newest }, 'a late answer to the dead replica overwrites nothing');
});

t.test('the environment seeds the bucket when it is empty or when KAKAO_REFRESH_TOKEN changed; otherwise the bucket\'s newer tokens win', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const stream = uniqueStream('TOKENS');
  cleanUpStream(t, stream);
  const kakao = new RotatingKakao('refresh-env');
  const first = await replicaOn(t, stream, kakao);
  kakao.accepted.clear();
  t.ok((await first.memo()).ok, 'refreshed: the bucket moves on from the environment\'s tokens');

  const restarted = await replicaOn(t, stream, kakao);
  t.equal(await restarted.accessToken(), 'access-issued-1', 'a replica started with the same environment takes the bucket\'s tokens');
  t.match(await bucketTokens(stream), { refresh_token: 'refresh-issued-1' });

  kakao.newest = 'refresh-new-login';
  kakao.accepted.add('access-new-login');
  const relogged = await replicaOn(t, stream, kakao, { kakao: { ...REFRESHABLE, accessToken: 'access-new-login', refreshToken: 'refresh-new-login' } });
  t.match(await bucketTokens(stream), { access_token: 'access-new-login', refresh_token: 'refresh-new-login' }, 'a new login replaces the bucket\'s tokens');
  await waitFor(async () => (await first.accessToken()) === 'access-new-login', 'the running replicas to take the new login');
  kakao.accepted.clear();
  t.ok((await first.memo()).ok, 'and to refresh with its refresh token');
  t.equal(kakao.callsTo('refresh').at(-1)!.token, 'refresh-new-login');
  await waitFor(async () => (await relogged.accessToken()) === 'access-issued-2', 'the new login\'s replica to take the refreshed token');
});
