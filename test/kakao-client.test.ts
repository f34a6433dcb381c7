/**
 * KakaoClient against the local Kakao stand-in: Kakao's answers mapped to the error kinds the
 * alert policy acts on, and a reply too large to be Kakao's not read whole.
 */
import t, { type Test } from 'tap';
import { KakaoClient } from '../workers/writer/kakao-client.js';
import { waitFor } from './support/event-options.js';
import { KAKAO_ERRORS, KakaoStandin, type ScriptedReply } from './support/kakao-standin.js';

const TEMPLATE = JSON.stringify({ object_type: 'text', text: 'hi', link: {}, button_title: 'b' });

async function rig(t: Test) {
  const standin = await KakaoStandin.start();
  const client = new KakaoClient({ apiBaseUrl: standin.url, authBaseUrl: standin.url, timeoutMs: 5000 });
  t.teardown(async () => {
    await client.close();
    await standin.close();
  });
  return { standin, client, token: standin.issueAccessToken() };
}

t.test('Kakao\'s answers map to what the policy does about them', async (t) => {
  const { standin, client, token } = await rig(t);
  const cases: Array<[string, ScriptedReply, Record<string, unknown>]> = [
    ['quota', KAKAO_ERRORS.quota, { kind: 'quota', code: '-10' }],
    ['internal error', KAKAO_ERRORS.internal, { kind: 'transient', code: '-1' }],
    ['503 with a text body', KAKAO_ERRORS.unavailable, { kind: 'transient', code: '503', message: 'Service Unavailable' }],
    ['missing consent', KAKAO_ERRORS.consent, { kind: 'forbidden', code: '-402', body: { required_scopes: ['talk_message'] } }],
    ['a dropped connection', 'drop', { kind: 'transient', status: null }],
  ];
  for (const [what, reply, error] of cases) {
    standin.script('memo', reply);
    t.match(await client.sendMemo(token, TEMPLATE), { ok: false, error }, what);
  }
  t.match(await client.sendMemo('access-unknown', TEMPLATE), { ok: false, error: { kind: 'unauthorized', code: '-401' } }, 'an unknown token');
  t.match(await client.refresh(standin.clientId, 'refresh-unknown', null), { ok: false, error: { kind: 'invalid_grant', code: 'KOE322' } }, 'a dead refresh token');
  t.match(await client.sendMemo(token, TEMPLATE), { ok: true, body: { result_code: 0 } });
});

t.test('a reply past 64 KiB is not read whole: a transient error, and the connection is dropped', async (t) => {
  const { standin, client, token } = await rig(t);
  const huge = 50 * 1024 * 1024;
  // A success body: read whole, it would pass for a delivered memo.
  standin.script('memo', { status: 200, bodyBytes: huge });
  const reply = await client.sendMemo(token, TEMPLATE);
  t.match(reply, { ok: false, error: { kind: 'transient', code: 'reply_too_large', status: 200 } });
  const [answer] = standin.requestsTo('memo');
  await waitFor(() => answer!.sentBytes !== null, 'the stand-in to stop writing');
  t.ok(answer!.sentBytes! < huge / 2, `the client left after ${answer!.sentBytes} of ${huge} bytes`);
  t.match(await client.sendMemo(token, TEMPLATE), { ok: true }, 'the next call works');
});
