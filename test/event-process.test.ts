/**
 * The event log through the process as `npm start` runs it (a child process on src/main.ts):
 * kill -9 loses no acknowledged event, a restart refills /event/recent (a torn last line is
 * skipped), SIGHUP reopens the file after a rotation, SIGTERM drains every pending line, even
 * while Kakao holds a memo.
 */
import { appendFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { eventIds, inParallel, logLines } from './support/event-http.js';
import { jsonClient, type JsonClient } from './support/json-client.js';
import { KakaoStandin } from './support/kakao-standin.js';
import { spawnServer, tempDir, testEnv, type ChildServer } from './support/server.js';
import { waitFor } from './support/wait.js';

interface Running { child: ChildServer; client: JsonClient; path: string }

/** A ready child server on `dir`'s log; killed at the end of the test if it is still running. */
async function start(t: Test, dir: string, env: Record<string, string> = {}): Promise<Running> {
  const child = spawnServer(testEnv(dir, { BACKEND_INFERENCE_WORKERS: '1', ...env }), dir);
  let exited = false;
  void child.exited.then(() => { exited = true; });
  t.teardown(() => { if (!exited) child.proc.kill('SIGKILL'); });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await child.listening;
  const client = jsonClient(t, `http://127.0.0.1:${port}`, 32);
  // Events are taken before the model loads, but a SIGTERM while it loads can abort the process
  // (onnxruntime, not the event side): every test here signals a fully started server.
  await waitFor(async () => (await client.get('/ready')).status === 200, 'the server to be ready');
  return { child, client, path: join(dir, 'events.jsonl') };
}

async function stop(t: Test, { child }: Running): Promise<void> {
  child.proc.kill('SIGTERM');
  t.equal(await child.exited, 0, 'exits 0 after SIGTERM');
}

const heartbeat = (i: number, note = 'run') => ({ type: 'HEARTBEAT', frame_idx: i, state: note, session_id: `cam-${i % 4}` });

/** The JSON log records the child printed with this message. */
const logged = (child: ChildServer, msg: string) =>
  child.stdout().split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);

for (const fsync of ['batch', 'never'] as const) {
  t.test(`kill -9 on an acknowledgement loses no acknowledged event (BACKEND_EVENT_FSYNC=${fsync})`, async (t) => {
    const running = await start(t, tempDir(), { BACKEND_EVENT_FSYNC: fsync });
    const acked: string[] = [];
    let killed = false;
    // 32 connections post without pause; the 600th 200 kills the server at once, with others in flight.
    const lane = async (lane: number) => {
      for (let i = 0; !killed; i++) {
        const reply = await running.client.post('/event/payload', heartbeat(lane * 100_000 + i)).catch(() => null);
        if (reply?.status !== 200) return;
        // A 200 that was already on its way when the kill landed is an acknowledgement too.
        acked.push(reply.json.event_id);
        if (acked.length >= 600 && !killed) {
          killed = true;
          running.child.proc.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 32 }, (_, i) => lane(i)));
    t.equal(await running.child.exited, null, 'the process was killed');
    const ids = eventIds(logLines(running.path));
    const inLog = new Set(ids);
    t.ok(acked.length >= 600);
    t.same(acked.filter((id) => !inLog.has(id)), [], `all ${acked.length} acknowledged events are in the log`);
    t.equal(inLog.size, ids.length, 'no duplicates');
  });
}

t.test('a restart refills /event/recent from the log; a torn last line is skipped and reported', async (t) => {
  const dir = tempDir();
  const first = await start(t, dir);
  const posted = await inParallel(Array.from({ length: 60 }, (_, i) => i), 8, (i) => first.client.post('/event/payload', heartbeat(i)));
  t.same(posted.filter((r) => r.status !== 200), []);
  const before = (await first.client.get('/event/recent?limit=60')).json as unknown[];
  t.equal(before.length, 60);
  await stop(t, first);

  const torn = '{"timestamp": "2026-11-29T08:35:4';
  appendFileSync(first.path, torn);
  const small = await start(t, dir, { BACKEND_EVENT_KEEP_RECENT: '5' });
  t.same((await small.client.get('/event/recent')).json, before.slice(-5), 'KEEP_RECENT=5: the last 5 records');
  t.same((await small.client.get('/event/recent?limit=2')).json, before.slice(-2), 'limit=2: the last 2, oldest first');
  t.same((await small.client.get('/event/recent?limit=0')).json, []);
  t.equal((await small.client.get('/event/recent?limit=two')).status, 422);
  t.match(logged(small.child, 'event log tail had lines that were skipped'), [{ level: 40, torn_last_line_bytes: Buffer.byteLength(torn), recent: 5 }], 'the torn line is reported');
  const next = await small.client.post('/event/payload', heartbeat(1000, 'after the tear'));
  t.equal(next.status, 200, 'a torn line is never fatal');
  await stop(t, small);

  const again = await start(t, dir);
  const after = (await again.client.get('/event/recent')).json as Array<{ event_id: string }>;
  t.same(after.slice(0, 49), before.slice(-49), 'default limit 50: the earlier records, then…');
  t.equal(after[49]!.event_id, next.json.event_id, '…the one written after the tear');
  t.same(logged(again.child, 'event log tail had lines that were skipped'), [], 'the torn fragment was cut off');
  t.equal(eventIds(logLines(again.path)).length, 61, 'every line of the log is a record');

  // The process restarted last takes the next test's SIGTERM.
  t.test('SIGTERM during a burst: every acknowledged event is written, then exit 0', async (t) => {
    const acked: string[] = [];
    const refused: number[] = [];
    let signalled = false;
    // Each connection posts until the server refuses or closes; the 300th 200 triggers the signal.
    const lane = async (lane: number) => {
      for (let i = 0; i < 5000; i++) {
        const reply = await again.client.post('/event/payload', heartbeat(lane * 100_000 + i)).catch(() => null);
        if (reply?.status !== 200) {
          if (reply) refused.push(reply.status);
          return;
        }
        acked.push(reply.json.event_id);
        if (acked.length >= 300 && !signalled) {
          signalled = true;
          again.child.proc.kill('SIGTERM');
        }
      }
    };
    await Promise.all(Array.from({ length: 32 }, (_, i) => lane(i)));
    t.ok(signalled, 'SIGTERM came while posts were in flight');
    t.equal(await again.child.exited, 0, 'exits 0');
    t.match(again.child.stdout(), /shutdown complete/);
    t.same(refused.filter((s) => s !== 503), [], 'what is refused during shutdown is refused with 503');
    const ids = eventIds(logLines(again.path));
    const inLog = new Set(ids);
    t.same(acked.filter((id) => !inLog.has(id)), [], `all ${acked.length} acknowledged events are in the log`);
    t.equal(inLog.size, ids.length, 'no duplicates');
  });
});

t.test('one process, Kakao holding every memo: a SIGHUP after a rotation, then a SIGTERM with memos pending', async (t) => {
  const kakao = await KakaoStandin.start();
  t.teardown(() => kakao.close());
  t.teardown(kakao.hold('memo'));
  const running = await start(t, tempDir(), { KAKAO_ACCESS_TOKEN: kakao.issueAccessToken(), KAKAO_API_BASE_URL: kakao.url, KAKAO_TIMEOUT_MS: '2000' });

  t.test('SIGHUP after a rotation: new lines go to a new file at the configured path, none lost', async (t) => {
    const post = (i: number) => running.client.post('/event/payload', heartbeat(i));
    const old = await inParallel(Array.from({ length: 50 }, (_, i) => i), 8, post);
    renameSync(running.path, `${running.path}.1`);
    running.child.proc.kill('SIGHUP');
    await waitFor(() => logged(running.child, 'event log reopened').length === 1, 'the writer to reopen the log');
    const fresh = await inParallel(Array.from({ length: 50 }, (_, i) => 50 + i), 8, post);
    t.same([...old, ...fresh].filter((r) => r.status !== 200), [], 'every event acknowledged');
    t.equal((await running.client.get('/health')).status, 200, 'SIGHUP does not stop the server');
    // An acknowledged event has been written (the kill -9 tests): the files are complete already.
    t.same(new Set(eventIds(logLines(`${running.path}.1`))), new Set(old.map((r) => r.json.event_id)), 'the rotated file keeps the lines before');
    t.same(new Set(eventIds(logLines(running.path))), new Set(fresh.map((r) => r.json.event_id)), 'the new file has the lines after');
    t.equal(logLines(running.path).length + logLines(`${running.path}.1`).length, 100, 'each line once');
  });

  t.test('SIGTERM while Kakao holds a memo: the lines are written and the process still exits 0', async (t) => {
    const replies = await inParallel(Array.from({ length: 20 }, (_, i) => i), 8, (i) => running.client.post('/event/payload', { type: 'END', event: 'fall', session_id: `cam-${i}` }));
    t.same(replies.map((r) => r.status), Array(20).fill(200));
    await waitFor(() => kakao.requestsTo('memo').length > 0, 'a memo to reach Kakao');
    await stop(t, running);
    const ends = logLines(running.path).filter((line) => JSON.parse(line).event_type === 'END');
    t.same(new Set(eventIds(ends)), new Set(replies.map((r) => r.json.event_id)), 'every acknowledged END is in the log');
    const reasons = logged(running.child, 'Kakao alert not delivered').map((r) => r.reason);
    t.equal(reasons.length, 20, 'every alert still pending is given up and reported');
    t.ok(reasons.every((r) => r === 'shutdown'), 'with the reason shutdown');
  });
});
