/**
 * The watch page's older events: the newest page from the camera board, then the event store back
 * to its start, over HTTP on a real server whose log holds far more than the board keeps; and the
 * history on its own (a real board, a real file store) for what a small log cannot show: a search
 * for the board's oldest event that spans several requests, and an event the store no longer has.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createLogger } from '../src/common/log.js';
import type { EventRecord } from '../src/events/records.js';
import { CameraBoard } from '../src/watch/camera-board.js';
import { EventHistory, type EventsPage, type EventsQuery, type ListedEvent } from '../src/watch/event-history.js';
import { JsonlSink } from '../workers/writer/jsonl-sink.js';
import { KakaoStandin } from './support/kakao-standin.js';
import type { JsonClient } from './support/json-client.js';
import { startTestServer, tempDir } from './support/server.js';
import { waitForValue } from './support/wait.js';

const TYPES = ['START', 'END', 'PROBS'];
const T0 = Date.parse('2026-01-05T09:00:00Z');
/** Record i of a log written before the server started: START/END/PROBS in turn, cameras cam-0…3. */
const oldRecord = (i: number, extra: Record<string, unknown> = {}): EventRecord => ({
  timestamp: new Date(T0 + i * 1000).toISOString().replace('Z', '+00:00'),
  event_type: TYPES[i % 3]!,
  session_id: `cam-${i % 4}`,
  user_id: null,
  data: TYPES[i % 3] === 'PROBS' ? { top_event: 'fall', top_prob: 0.4, ...extra } : { event: i % 2 ? 'fall' : 'lying_still', ...extra },
  event_id: `old${i}`,
});
const ids = (events: ListedEvent[]) => events.map((e) => e.record.event_id);

/** Every page of /watch/api/events from the newest, with the query's filters. */
async function pageAll(client: JsonClient, query: Record<string, string>, firstLimit = query.limit ?? '50') {
  const events: ListedEvent[] = [];
  let next: string | null = null;
  let requests = 0;
  do {
    const params = new URLSearchParams({ ...query, ...(next === null ? { limit: firstLimit } : { before: next }) });
    const answer = await client.get(`/watch/api/events?${params}`);
    if (answer.status !== 200) throw new Error(`${params}: ${answer.status} ${answer.text}`);
    const page = answer.json as EventsPage;
    events.push(...page.events);
    next = page.next;
    requests++;
  } while (next !== null);
  return { events, requests };
}

t.test('over HTTP: the board\'s newest, then the whole log, with the board\'s deliveries', async (t) => {
  const OLD = 1200;
  const dir = tempDir();
  const log = join(dir, 'events.jsonl');
  // Lines that are JSON objects but no records the page can show, among the tail the board is seeded from:
  // one nested far deeper than any body is let in (JSON.stringify of it overflows the stack), one whose camera is a number.
  const deep = `{"timestamp": "2026-01-05T09:00:00+00:00", "event_type": "START", "session_id": "cam-0", "user_id": null, "data": {"event": "fall", "x": ${'['.repeat(20_000)}${']'.repeat(20_000)}}, "event_id": "deep"}`;
  const numbered = JSON.stringify({ ...oldRecord(0), session_id: 7, event_id: 'numbered' });
  const lines = Array.from({ length: OLD }, (_, i) => JSON.stringify(oldRecord(i)));
  lines.splice(OLD - 5, 0, deep, numbered);
  writeFileSync(log, `${lines.join('\n')}\n`);
  const kakao = await KakaoStandin.start();
  t.teardown(() => kakao.close());
  const { client } = await startTestServer(t, {
    BACKEND_EVENT_LOG_JSONL: log,
    BACKEND_EVENT_KEEP_RECENT: '20',
    KAKAO_ACCESS_TOKEN: kakao.issueAccessToken(),
    KAKAO_API_BASE_URL: kakao.url,
  });
  const posted: string[] = [];
  for (const type of ['START', 'END', 'START', 'END']) {
    const answer = await client.post('/event/payload', { type, ts: T0 / 1000 + 5000, event: 'fall', prob: 0.95, duration_sec: type === 'END' ? 3 : null, session_id: 'cam-live' });
    posted.push((answer.json as { event_id: string }).event_id);
  }
  const firstEnd = posted[1]!;
  await waitForValue(() => client.get(`/watch/api/event?id=${firstEnd}`), (r) => r.json?.delivery?.state === 'delivered', 'the first END\'s memo delivered');

  const alerts = Array.from({ length: OLD }, (_, i) => i).filter((i) => i % 3 !== 2).reverse().map((i) => `old${i}`);
  const { events, requests } = await pageAll(client, { types: 'START,END', limit: '50' }, '1');
  t.same(ids(events), [...[...posted].reverse(), ...alerts], 'every START and END once, newest first, from the posted ones back to the log\'s first');
  t.ok(requests >= Math.ceil(alerts.length / 50), `${requests} requests`);

  const byId = new Map(events.map((e) => [e.record.event_id, e]));
  t.match(byId.get(firstEnd), { seq: Number, delivery: { state: 'delivered' } }, 'an END from the store that the board keeps: its memo\'s delivery');
  t.match(byId.get(`old${OLD - 2}`), { seq: Number, delivery: { state: 'none' } }, 'refilled at start: the board\'s entry');
  t.same(byId.get('old1'), { seq: null, received_ms: T0 + 1000, record: oldRecord(1), delivery: { state: 'unknown' } }, 'older than the board: as stored, delivery unknown');

  const probs = Array.from({ length: OLD }, (_, i) => i).filter((i) => i % 3 === 2 && i % 4 === 1).reverse().map((i) => `old${i}`);
  t.same(ids((await pageAll(client, { camera: 'cam-1', types: 'PROBS', limit: '40' })).events), probs, 'filtered: one camera\'s PROBS');
  t.same(ids((await pageAll(client, { camera: 'cam-live', event: 'fall', types: 'START,END,PROBS', limit: '3' }, '2')).events), [...posted].reverse(), 'filtered: the live camera');

  const state = await client.get('/watch/api/state');
  t.equal(state.status, 200, 'the state answers though the tail held a line nested too deep to answer');
  t.notOk(ids(events).some((id) => id === 'deep' || id === 'numbered'), 'lines that are no records are listed neither from the board nor from the store');
  t.match(state.json, { events: [{ record: { event_id: posted[3] } }], events_next: /^after\./ }, 'the page\'s first state carries the cursor of the older events');

  for (const [query, why] of [
    ['before=store.abc', 'a cursor this server does not make'],
    ['before=after.%21%21.12', 'an event id that is not base64url'],
    [`before=store.${'1'.repeat(21)}`, 'a store cursor too long'],
    ['before=store.99999999999999999999', 'a store position no store has (20 digits)'],
    ['before=store.9007199254740993', 'a store position past 2^53'],
    ['before=after.YWJj.9007199254740993', 'an after cursor whose store position is past 2^53'],
    [`before=${'x'.repeat(300)}`, 'a cursor over 256 characters'],
    ['limit=501', 'more than 500 a page'],
    ['limit=0', 'none a page'],
  ] as const) {
    const answer = await client.get(`/watch/api/events?${query}`);
    t.equal(answer.status, 422, why);
    t.ok(answer.text.length < 1000, 'a short answer');
  }
  t.match((await client.get('/watch/api/events?before=nonsense')).json, { detail: /not a cursor of this server.*`next`/ }, 'the 422 says what to give');
  t.equal((await client.get(`/watch/api/event?id=old1`)).status, 404, 'one event the board no longer keeps: 404 (the page shows what it listed)');
});

t.test('on its own: a search for the board\'s oldest event over several requests; an event the store no longer has', async (t) => {
  const path = join(tempDir(), 'events.jsonl');
  // Ten START/ENDs, the START the board keeps, then 18 MiB of PROBS (4 KiB each) that a START/END page skips.
  const lines: string[] = [];
  for (let i = 0; i < 10; i++) lines.push(JSON.stringify(oldRecord(i * 3 + (i % 2))));
  const kept = oldRecord(99_999);
  lines.push(JSON.stringify(kept));
  const blob = 'p'.repeat(4096);
  for (let i = 0; i < 4500; i++) lines.push(JSON.stringify(oldRecord(3 * i + 2, { blob })));
  writeFileSync(path, `${lines.join('\n')}\n`);
  const store = new JsonlSink({ path, fsync: 'never', fsyncIntervalMs: 1000, logger: createLogger('silent'), onHealth: () => {} });
  t.teardown(() => store.close());
  const board = new CameraBoard();
  board.record(kept);
  const history = new EventHistory(board, store);
  const query: EventsQuery = { limit: 4, types: ['START', 'END'] };

  const first = history.first(query);
  t.same(ids(first.events), ['old99999']);
  const searching = await history.older(first.next!, query);
  t.same(searching.events, [], 'one request reads at most 16 MiB: the event is not met yet');
  t.match(searching.next, /^after\.[\w-]+\.\d+$/, 'the search goes on from where it stopped');
  const found = await history.older(searching.next!, query);
  const older = Array.from({ length: 10 }, (_, i) => `old${i * 3 + (i % 2)}`).reverse();
  t.same(ids(found.events), older.slice(0, 4), 'then the page below the event');
  t.match(found.events[0], { seq: null, delivery: { state: 'unknown' } });
  const rest = await history.older(found.next!, { ...query, limit: 50 });
  t.same(ids(rest.events), older.slice(4));
  t.equal(rest.next, null);

  board.record({ ...kept, event_id: 'only-in-memory' });
  const gone = history.first({ limit: 1 });
  const past = await history.older(gone.next!, { limit: 1 });
  t.same(ids(past.events), [], 'an event the store does not have: everything the store holds is newer');
  t.not(past.next, null, 'found out a few requests at a time');
  let next = past.next;
  let requests = 1;
  while (next !== null) {
    const page = await history.older(next, { limit: 1 });
    t.same(page.events, []);
    next = page.next;
    requests++;
  }
  t.ok(requests >= 2 && requests < 10, `${requests} requests to read 18 MiB`);
  await t.rejects(history.older('after..', query), { code: 'invalid_input' });
});
