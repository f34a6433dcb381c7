/**
 * Kakao token state (KakaoTokens) on a fake clock and a fake Kakao client, with real token files:
 * one refresh for many -401s, back-off when Kakao rejects the tokens it has just issued, no storm
 * after a failed refresh, the refresh ahead of expiry, which tokens win at start, the token check.
 * -401 → refresh → retry with a restart, and KOE322, run end to end in kakao-http.test.ts.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { inspect } from 'node:util';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { KakaoConfig } from '../src/contracts/writer.js';
import type { KakaoReply } from '../workers/writer/kakao-client.js';
import { sha256 } from '../workers/writer/kakao-token-file.js';
import { KakaoTokens } from '../workers/writer/kakao-tokens.js';
import { captureLogger, eventOptions } from './support/event-options.js';
import { FakeClock, FakeKakaoClient, REPLIES, Reports, settle } from './support/kakao-fakes.js';

const root = mkdtempSync(join(tmpdir(), 'kakao-tokens-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

const REFRESHABLE = { accessToken: 'access-env', restApiKey: 'rest-api-key', refreshToken: 'refresh-env' };

function rig(t: Test, kakao: Partial<KakaoConfig> = REFRESHABLE, prepare: (dir: string) => void = () => {}) {
  const dir = join(root, `case-${dirs++}`);
  mkdirSync(dir);
  prepare(dir);
  const clock = new FakeClock();
  const client = new FakeKakaoClient();
  const { logger, records } = captureLogger();
  const reports = new Reports();
  const config = eventOptions(dir, { kakao }).kakao;
  const tokens = new KakaoTokens({ config, client, logger, report: reports.report, clock });
  tokens.load();
  t.teardown(() => tokens.close());
  /** A memo through the token layer, as the alerts send it. */
  const memo = (): Promise<KakaoReply> => tokens.authorized((token) => client.sendMemo(token, JSON.stringify({ text: 'memo' })));
  return { dir, clock, client, records, reports, tokens, memo, tokenFile: config.tokenFile };
}

t.test('-401: one refresh for all the memos rejected together, each retried with the new token, the rotated refresh token saved', async (t) => {
  const { client, tokens, memo, tokenFile, reports } = rig(t);
  client.rotate = true;
  const release = client.hold('refresh');
  const replies = Promise.all(Array.from({ length: 5 }, memo));
  await settle();
  t.equal(client.callsTo('refresh').length, 1, 'one refresh in flight for five -401s');
  release();
  t.ok((await replies).every((r) => r.ok), 'every memo went through on the retry');
  t.equal(client.callsTo('refresh').length, 1);
  t.same(client.callsTo('memo').map((c) => c.token), [...Array(5).fill('access-env'), ...Array(5).fill('access-issued-1')]);
  t.equal(reports.count('refreshes', 'ok'), 1);
  const saved = JSON.parse(readFileSync(tokenFile, 'utf8')) as Record<string, unknown>;
  t.match(saved, { access_token: 'access-issued-1', refresh_token: 'refresh-issued-1', env_refresh_token_sha256: sha256('refresh-env') });
  t.equal(statSync(tokenFile).mode & 0o777, 0o600, 'readable by the server\'s user only');
  t.match(tokens.info(), { source: 'env', refresh_token_state: 'valid', expires_in: 21_599 });
});

t.test('Kakao rejecting the tokens it has just issued: refreshes back off, doubling, instead of one per memo', async (t) => {
  const { clock, client, memo, records } = rig(t);
  client.acceptIssued = false;
  const refreshes = () => client.callsTo('refresh').length;
  t.match(await memo(), { ok: false, error: { kind: 'unauthorized' } });
  t.equal(refreshes(), 1, 'the first -401 refreshes');
  for (let i = 0; i < 20; i++) await memo();
  t.equal(refreshes(), 1, 'twenty more -401s: no refresh while the new token was just rejected');
  t.equal(client.callsTo('memo').length, 22, 'each memo is still tried once with the token at hand');

  await clock.advance(30_000);
  await memo();
  t.equal(refreshes(), 2, 'after 30 s one more refresh');
  await clock.advance(30_000);
  await memo();
  t.equal(refreshes(), 2, 'rejected again: now the wait is 60 s');
  await clock.advance(30_000);
  await memo();
  t.equal(refreshes(), 3);
  t.match(records.filter((r) => /just issued/.test(String(r.msg))).map((r) => r.next_refresh_in_ms), [30_000, 60_000, 120_000]);

  client.acceptIssued = true;
  await clock.advance(120_000);
  t.match(await memo(), { ok: true }, 'once Kakao takes the refreshed token again');
  t.equal(refreshes(), 4);
  client.accepted.clear();
  await memo();
  t.equal(refreshes(), 5, 'a token that worked and then expires is refreshed at once: the back-off starts over');
});

t.test('a failed refresh (Kakao unreachable) is not retried on demand for a minute', async (t) => {
  const { clock, client, memo, reports } = rig(t);
  client.script('refresh', REPLIES.down);
  await memo();
  await memo();
  t.equal(client.callsTo('refresh').length, 1);
  t.equal(reports.count('refreshes', 'failed'), 1);
  await clock.advance(60_000);
  t.match(await memo(), { ok: true });
  t.equal(client.callsTo('refresh').length, 2, 'the scheduled retry after a minute');
});

t.test('the access token is obtained at start and refreshed ahead of its expiry', async (t) => {
  const { clock, client, tokens } = rig(t, { ...REFRESHABLE, accessToken: null });
  tokens.start();
  await settle();
  t.equal(client.callsTo('refresh').length, 1, 'no access token: one refresh at start');
  t.same(clock.timers(), [21_599_000 - 600_000], 'the next ten minutes before expiry');
  await clock.advance(21_599_000 - 600_000);
  t.equal(client.callsTo('refresh').length, 2);
  t.match(tokens.info(), { expires_in: 21_599, refresh_token_state: 'valid' });
});

t.test('a token file descending from the environment wins at start; a refresh token from a fresh login wins over the file', async (t) => {
  const file = (envRefresh: string) => (dir: string) => writeFileSync(join(dir, 'kakao-token.json'), JSON.stringify({
    version: 1, access_token: 'access-from-file', access_token_expires_at: null, refresh_token: 'refresh-from-file',
    refresh_token_expires_at: null, env_refresh_token_sha256: sha256(envRefresh), env_access_token_sha256: sha256('access-env'), saved_at: '2026-01-01T00:00:00+00:00',
  }));
  const descends = rig(t, REFRESHABLE, file('refresh-env'));
  descends.client.accepted.add('access-from-file');
  t.match(await descends.memo(), { ok: true });
  t.equal(descends.client.callsTo('memo')[0]!.token, 'access-from-file');
  t.match(descends.tokens.info(), { source: 'file' });

  const fresh = rig(t, { ...REFRESHABLE, refreshToken: 'refresh-new-login' }, file('refresh-old-login'));
  fresh.client.accepted.add('access-env');
  t.match(await fresh.memo(), { ok: true });
  t.equal(fresh.client.callsTo('memo')[0]!.token, 'access-env');
  fresh.client.accepted.clear();
  await fresh.memo();
  t.equal(fresh.client.callsTo('refresh')[0]!.token, 'refresh-new-login', 'the refresh uses the new login\'s token');
  t.match(fresh.tokens.info(), { source: 'env' });
});

t.test('token check: Kakao\'s answer and the tokens\' state, never a token; without tokens it says why', async (t) => {
  const { client, tokens } = rig(t);
  client.accepted.add('access-env');
  const good = await tokens.tokenCheck();
  t.match(good, { ok: true, response: { id: 4242 }, token: { source: 'env', expires_in: 21_599, refresh_token_state: 'unverified' } });
  client.script('me', REPLIES.consent);
  const bad = await tokens.tokenCheck();
  t.match(bad, { ok: false, err: 'kakao -402: insufficient scopes.', response: { required_scopes: ['talk_message'] } });
  t.notOk(/access-|refresh-/.test(JSON.stringify([good, bad])), 'no token in either answer');

  const none = rig(t, {});
  t.same(await none.tokens.tokenCheck(), { ok: false, err: 'KAKAO_ACCESS_TOKEN not set' });
});

t.test('a logged or serialised token holder shows its state, never a token', async (t) => {
  const { tokens } = rig(t, { accessToken: 'secret-access', restApiKey: 'rest-api-key', refreshToken: 'secret-refresh' });
  for (const shown of [JSON.stringify(tokens), inspect(tokens, { depth: 5 }), JSON.stringify({ tokens })]) t.notMatch(shown, /secret-/);
  t.match(JSON.stringify(tokens), /"state"/);
});
