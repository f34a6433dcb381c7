/**
 * Older events from the JSONL file, read backwards a page at a time: on real files, with small
 * chunks to cross their edges, filters, cursors that carry on, torn and invalid lines, lines
 * written while paging, and a log rotated away under an old cursor.
 */
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { recordMatches, type EventFilter } from '../src/common/event-filter.js';
import { createLogger } from '../src/common/log.js';
import { readLogPage, type LogPageOptions } from '../src/common/log-page.js';
import { JsonlSink } from '../workers/writer/jsonl-sink.js';
import { tempDir } from './support/temp-dir.js';

const dir = tempDir();
let files = 0;
function file(content: string): string {
  const path = join(dir, `f${files++}.jsonl`);
  writeFileSync(path, content);
  return path;
}

const TYPES = ['START', 'END', 'PROBS'];
/** Record i: cameras a/b/c in turn, types START/END/PROBS in turn, multi-byte text of varying length. */
const record = (i: number) => JSON.stringify({
  timestamp: '2026-11-29T08:35:47+00:00', event_type: TYPES[i % 3], session_id: ['a', 'b', 'c'][i % 4] ?? null, user_id: null,
  data: i % 3 === 2 ? { top_event: 'fall', top_prob: 0.5 } : { event: i % 2 ? 'fall' : 'lying_still', note: `낙상 ${'가'.repeat(i % 11)}` }, event_id: `e${i}`,
});
const records = (count: number) => Array.from({ length: count }, (_, i) => record(i));
const ids = (lines: string[]) => lines.map((line) => (JSON.parse(line) as { event_id: string }).event_id);

/** Every page from `before` to the file's start, and the cursors on the way; throws for a page over its limit or one that does not move on. */
async function pageAll(path: string, limit: number, filter: EventFilter = {}, options: LogPageOptions = {}, before: number | null = null) {
  const lines: string[] = [];
  const cursors: number[] = [];
  let pages = 0;
  for (;;) {
    const page = await readLogPage(path, { before, limit, accept: (r) => recordMatches(r, filter) }, options);
    pages++;
    if (page.lines.length > limit) throw new Error(`a page of ${page.lines.length} lines for a limit of ${limit}`);
    lines.push(...page.lines);
    if (page.next === null) return { lines, cursors, pages };
    if (before !== null && page.next >= before) throw new Error(`a page from ${before} goes on at ${page.next}`);
    cursors.push(page.next);
    before = page.next;
  }
}

t.test('every line once, newest first, whatever the chunk size and the page size', async (t) => {
  const all = records(300);
  const path = file(`${all.join('\n')}\n`);
  const newestFirst = [...all].reverse();
  for (const chunkBytes of [64, 333, 4096, 1 << 20]) {
    for (const limit of [1, 7, 50, 1000]) {
      const { lines, pages } = await pageAll(path, limit, {}, { chunkBytes });
      t.same(lines, newestFirst, `chunk ${chunkBytes}, limit ${limit}`);
      t.equal(pages, Math.ceil(300 / limit), 'full pages until the last');
    }
  }
  const few = all.slice(0, 12);
  const fewPath = file(`${few.join('\n')}\n`);
  for (const chunkBytes of [1, 7]) t.same((await pageAll(fewPath, 5, {}, { chunkBytes })).lines, [...few].reverse(), `chunks of ${chunkBytes} bytes`);
});

t.test('a cursor is the first byte of the oldest line of its page', async (t) => {
  const all = records(20);
  const path = file(`${all.join('\n')}\n`);
  const page = await readLogPage(path, { before: null, limit: 5, accept: () => true }, { chunkBytes: 16 });
  t.same(ids(page.lines), ['e19', 'e18', 'e17', 'e16', 'e15']);
  t.equal(page.next, Buffer.byteLength(`${all.slice(0, 15).join('\n')}\n`));
  const older = await readLogPage(path, { before: page.next, limit: 2, accept: () => true });
  t.same(ids(older.lines), ['e14', 'e13'], 'the next page carries on right below it');
  t.same(await readLogPage(path, { before: 0, limit: 5, accept: () => true }), { lines: [], next: null }, 'cursor 0: the start');
});

t.test('filters: camera, event (or a PROBS record\'s top_event), types; pages fill across what they skip', async (t) => {
  const all = records(400);
  const path = file(`${all.join('\n')}\n`);
  const newestFirst = [...all].reverse().map((line) => JSON.parse(line) as { event_type: string; session_id: string | null; data: Record<string, unknown>; event_id: string });
  const cases: [EventFilter, (r: (typeof newestFirst)[number]) => boolean][] = [
    [{ camera: 'b' }, (r) => r.session_id === 'b'],
    [{ camera: '-' }, (r) => r.session_id === null],
    [{ event: 'fall' }, (r) => r.data.event === 'fall' || r.data.top_event === 'fall'],
    [{ types: ['START', 'END'] }, (r) => r.event_type !== 'PROBS'],
    [{ camera: 'a', event: 'lying_still', types: ['START'] }, (r) => r.session_id === 'a' && r.data.event === 'lying_still' && r.event_type === 'START'],
  ];
  for (const [filter, wanted] of cases) {
    const expected = newestFirst.filter(wanted).map((r) => r.event_id);
    t.ok(expected.length > 5, `${JSON.stringify(filter)} picks some (${expected.length})`);
    const { lines } = await pageAll(path, 9, filter, { chunkBytes: 100 });
    t.same(ids(lines), expected, JSON.stringify(filter));
  }
  t.same(await readLogPage(path, { before: null, limit: 10, accept: (r) => recordMatches(r, { camera: 'nobody' }) }), { lines: [], next: null }, 'nothing matches: one empty last page');
});

t.test('torn and invalid lines are skipped, never returned', async (t) => {
  const good = records(6);
  const content = [good[0], 'not json', good[1], '[1, 2]', '', '   ', good[2], '{"cut": "in the mi', good[3], '"a string"', good[4], good[5]].join('\n');
  const path = file(`${content}\n{"event_type": "START", "event_id": "still bei`);
  for (const chunkBytes of [3, 64, 4096]) {
    const { lines } = await pageAll(path, 2, {}, { chunkBytes });
    t.same(ids(lines), ['e5', 'e4', 'e3', 'e2', 'e1', 'e0'], `chunk ${chunkBytes}: the torn last line (being written) and the junk are left out`);
  }
  t.same(await readLogPage(join(dir, 'missing.jsonl'), { before: null, limit: 5, accept: () => true }), { lines: [], next: null }, 'a missing file: an empty last page');
  t.same(await readLogPage(file(''), { before: null, limit: 5, accept: () => true }), { lines: [], next: null });
  t.same(ids((await readLogPage(file(good[0]!), { before: null, limit: 5, accept: () => true })).lines), [], 'a file without a newline has no complete line');
  t.same(ids((await readLogPage(file(`${good[0]}\n${good[1]}`), { before: null, limit: 5, accept: () => true })).lines), ['e0'], 'a last record is complete once its newline is written');
});

t.test('each page reads a bounded number of bytes, and still moves on', async (t) => {
  const all = records(600);
  const path = file(`${all.join('\n')}\n`);
  const size = Buffer.byteLength(`${all.join('\n')}\n`);
  const scanBytes = 4096;
  // One camera in four, START only: a page of 50 would need most of the file.
  const filter: EventFilter = { camera: 'a', types: ['START'] };
  const { lines, cursors, pages } = await pageAll(path, 50, filter, { chunkBytes: 512, scanBytes });
  t.same(ids(lines), [...all].reverse().map((l) => JSON.parse(l) as { event_id: string; session_id: string; event_type: string }).filter((r) => r.session_id === 'a' && r.event_type === 'START').map((r) => r.event_id), 'the same lines as unbounded pages');
  t.ok(pages >= Math.floor(size / (scanBytes + 512)), `${pages} pages for ${size} bytes at ${scanBytes} a page`);
  let previous = size;
  for (const cursor of cursors) {
    t.ok(previous - cursor <= scanBytes + 512, 'no page read more than its bound and one chunk');
    previous = cursor;
  }
  const first = await readLogPage(path, { before: null, limit: 50, accept: (r) => recordMatches(r, { camera: 'nobody' }) }, { chunkBytes: 512, scanBytes });
  t.same(first.lines, [], 'a page stopped by its bound may hold nothing');
  t.not(first.next, null, 'and still says where to go on');
});

t.test('a line longer than the cap is skipped, and a page stopped inside it moves on', async (t) => {
  const long = JSON.stringify({ event_type: 'START', event_id: 'long', blob: 'x'.repeat(20_000) });
  const path = file(`${record(1)}\n${long}\n${record(2)}\n`);
  const { lines } = await pageAll(path, 10, {}, { chunkBytes: 256, scanBytes: 2048, maxLineBytes: 1024 });
  t.same(ids(lines), ['e2', 'e1']);
  t.same(ids((await pageAll(path, 10, {}, { chunkBytes: 256 })).lines), ['e2', 'long', 'e1'], 'kept under the default cap');
});

t.test('the file store: lines written while paging, a bad cursor, a log rotated away', async (t) => {
  const path = join(tempDir(), 'events.jsonl');
  const sink = new JsonlSink({ path, fsync: 'never', fsyncIntervalMs: 1000, logger: createLogger('silent'), onHealth: () => {} });
  t.teardown(() => sink.close());
  await sink.start(0);
  await sink.append(`${records(30).join('\n')}\n`);

  const first = await sink.page({ before: null, limit: 10 });
  t.same(ids(first.lines), Array.from({ length: 10 }, (_, i) => `e${29 - i}`));
  t.type(first.next, 'string', 'the cursor is a string (a byte offset)');
  await sink.append(`${[30, 31, 32].map(record).join('\n')}\n`);
  const second = await sink.page({ before: first.next, limit: 10 });
  t.same(ids(second.lines), Array.from({ length: 10 }, (_, i) => `e${19 - i}`), 'lines written since do not move an older page');
  t.same(ids((await sink.page({ before: null, limit: 2 })).lines), ['e32', 'e31'], 'a new first page has them');
  const filtered = await sink.page({ before: second.next, limit: 100, event: 'fall', types: ['END'] });
  t.same(ids(filtered.lines), ['e7', 'e1'], 'the query\'s filters');
  t.same(ids((await sink.page({ before: second.next, limit: 100, camera: 'b', types: ['START'] })).lines), ['e9'], 'camera');
  t.equal(filtered.next, null);

  for (const bad of ['-1', 'abc', '1e3', '12345678901234567']) {
    await t.rejects(sink.page({ before: bad, limit: 5 }), /not a cursor of the event log file/, `cursor ${JSON.stringify(bad)}`);
  }

  // logrotate moves the file away; the writer reopens a new, smaller one.
  const deep = (await sink.page({ before: null, limit: 3 })).next!;
  renameSync(path, `${path}.1`);
  await sink.reopen();
  await sink.append(`${record(40)}\n${record(41)}\n`);
  const after = await sink.page({ before: deep, limit: 10 });
  t.ok(Number(deep) > Buffer.byteLength(`${record(40)}\n${record(41)}\n`), 'the old cursor lies past the new file\'s end');
  t.same(ids(after.lines), ['e41', 'e40'], 'a cursor past the end starts from the end');
  t.equal(after.next, null);
  // A cursor inside a line of a new, larger file: the partial line is not taken for one.
  appendFileSync(path, `${records(10).join('\n')}\n`);
  const inside = Buffer.byteLength(`${record(40)}\n${record(41)}\n${record(0)}\n`) + 20;
  t.same(ids((await sink.page({ before: String(inside), limit: 10 })).lines), ['e0', 'e41', 'e40']);
});
