/**
 * The event endpoints on the real server (in this process, real writer thread, real file):
 * thousands of concurrent events give exactly one seed-shaped line each; /event/recent's limit
 * semantics; an unwritable log answers 503 and the server recovers by itself.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { eventIds, inParallel, logLines } from './support/event-http.js';
import { jsonClient } from './support/json-client.js';
import { startTestServer } from './support/server.js';
import { waitFor } from './support/wait.js';

const ID = /^[0-9a-f]{32}$/;

interface Post { path: string; body: unknown; expected?: string }

/** Requests whose line is known byte for byte (`<ID>` stands for the event_id answered). */
const SPECIMENS: Post[] = [
  {
    path: '/event/payload',
    body: { type: 'END', ts: 1764405347.2, frame_idx: 1234, event: '낙상', prob: 0.9, duration_sec: 5, state: null, top_event: null, top_prob: null, probs: null, session_id: 'cam-1', user_id: '관리자' },
    expected: '{"timestamp": "2025-11-29T08:35:47.200000+00:00", "event_type": "END", "session_id": "cam-1", "user_id": "관리자", "data": {"type": "END", "ts": 1764405347.2, "frame_idx": 1234, "event": "낙상", "prob": 0.9, "duration_sec": 5.0, "state": null, "top_event": null, "top_prob": null, "probs": null}, "event_id": "<ID>"}',
  },
  {
    // The seed's realtime client: parallel events / probs lists.
    path: '/event/payload',
    body: { type: 'PROBS', ts: 1764405348, top_event: 'fall', top_prob: 1, events: ['fall', '싸움'], probs: [1, 0.25] },
    expected: '{"timestamp": "2025-11-29T08:35:48+00:00", "event_type": "PROBS", "session_id": null, "user_id": null, "data": {"type": "PROBS", "ts": 1764405348.0, "frame_idx": null, "event": null, "prob": null, "duration_sec": null, "state": null, "top_event": "fall", "top_prob": 1.0, "probs": {"fall": 1.0, "싸움": 0.25}}, "event_id": "<ID>"}',
  },
  {
    path: '/event/payload',
    body: { type: 'HEARTBEAT', ts: 1764405349.5, state: '대기' },
    expected: '{"timestamp": "2025-11-29T08:35:49.500000+00:00", "event_type": "HEARTBEAT", "session_id": null, "user_id": null, "data": {"type": "HEARTBEAT", "ts": 1764405349.5, "frame_idx": null, "event": null, "prob": null, "duration_sec": null, "state": "대기", "top_event": null, "top_prob": null, "probs": null}, "event_id": "<ID>"}',
  },
  {
    path: '/event',
    body: { event: { timestamp: '2026-11-29T08:35:47Z', event_type: '침입', session_id: 'cam-2', data: { count: 3, score: 1.5, label: '한글' } } },
    expected: '{"timestamp": "2026-11-29T08:35:47+00:00", "event_type": "침입", "session_id": "cam-2", "user_id": null, "data": {"count": 3, "score": 1.5, "label": "한글"}, "event_id": "<ID>"}',
  },
  {
    path: '/event/',
    body: { event: { timestamp: '2026-11-29T17:35:47.25+09:00', event_type: 'note', user_id: 'u-7' } },
    expected: '{"timestamp": "2026-11-29T17:35:47.250000+09:00", "event_type": "note", "session_id": null, "user_id": "u-7", "data": null, "event_id": "<ID>"}',
  },
];

/** The i-th request of the load: a mix of every type and both forms, specimens spread through it. */
function loadRequest(i: number, total: number): Post {
  const every = Math.floor(total / SPECIMENS.length);
  if (i % every === every - 1 && i < every * SPECIMENS.length) return SPECIMENS[Math.floor(i / every)]!;
  const session = `cam-${i % 16}`;
  switch (i % 6) {
    case 0: return { path: '/event/payload', body: { type: 'START', frame_idx: i, event: 'fall', prob: 0.5 + (i % 40) / 100, session_id: session } };
    case 1: return { path: '/event/payload', body: { type: 'PROBS', frame_idx: i, top_event: '낙상', top_prob: 0.75, probs: { 낙상: 0.75, fight: i / total }, session_id: session } };
    case 2: return { path: '/event/payload', body: { type: 'PROBS', events: ['fall', 'fight', 'loitering'], probs: [i / total, 0.5, 1], session_id: session } };
    case 3: return { path: '/event/payload', body: { type: 'HEARTBEAT', ts: 1764405000 + i / 8, state: 'idle', session_id: session } };
    case 4: return { path: '/event/payload', body: { type: 'END', event: '낙상', duration_sec: i / 10, frame_idx: i, session_id: session, user_id: 'u-1' } };
    default: return { path: i % 2 ? '/event' : '/event/', body: { event: { timestamp: 1764405000 + i, event_type: 'zone', session_id: session, data: { i } } } };
  }
}

t.test('thousands of events over 64 connections: exactly one seed-shaped line per acknowledged event', async (t) => {
  const { url, config } = await startTestServer(t, { BACKEND_INFERENCE_WORKERS: '1' });
  const client = jsonClient(t, url, 64);
  const total = 4000;
  const posts = Array.from({ length: total }, (_, i) => loadRequest(i, total));
  const replies = await inParallel(posts, 64, (p) => client.post(p.path, p.body));

  const notOk = replies.filter((r) => r.status !== 200 || r.json?.success !== true || !ID.test(r.json?.event_id));
  t.same(notOk.map((r) => `${r.status} ${r.text}`), [], 'every event is acknowledged with {success: true, event_id}');
  const acked = replies.map((r) => r.json.event_id as string);
  t.equal(new Set(acked).size, total, 'every event_id answered is new');

  const lines = logLines(config.events.logPath!);
  t.equal(lines.length, total, 'one line per event');
  const ids = eventIds(lines);
  t.equal(new Set(ids).size, total, 'no duplicate lines');
  t.same(new Set(ids), new Set(acked), 'every acknowledged event_id is in the log');

  const lineById = new Map(ids.map((id, i) => [id, lines[i]!]));
  posts.forEach((post, i) => {
    if (post.expected) t.equal(lineById.get(acked[i]!), post.expected.replace('<ID>', acked[i]!), `exact line for ${post.path} ${JSON.stringify(post.body).slice(0, 40)}…`);
  });
  // Payload float fields print as floats whatever the JSON sent (Python's float typing): never `"prob": 1,`.
  const intFloats = lines.filter((l) => l.includes('"data": {"type": ') && /"(ts|prob|duration_sec|top_prob)": -?\d+[,}]/.test(l));
  t.same(intFloats, [], 'no payload float field prints as an integer');

  const recent = await client.get('/event/recent?limit=200');
  t.equal(recent.status, 200);
  t.equal(recent.text, `[${lines.slice(-200).join(', ')}]`, '/event/recent serves the last lines as written, oldest first');
});

t.test('a full backlog answers 503 with Retry-After; only acknowledged events are written', async (t) => {
  const { url, config } = await startTestServer(t, { BACKEND_INFERENCE_WORKERS: '1', BACKEND_EVENT_BACKLOG_MAX: '2' });
  const client = jsonClient(t, url, 32);
  const replies = await inParallel(Array.from({ length: 400 }, (_, i) => i), 32, (i) => client.post('/event/payload', { type: 'HEARTBEAT', frame_idx: i }));
  const busy = replies.filter((r) => r.status === 503);
  t.ok(busy.length > 0, `${busy.length} of 400 refused while the backlog was full`);
  t.same(replies.filter((r) => r.status !== 200 && r.status !== 503), [], '200 or 503, nothing else');
  for (const r of busy.slice(0, 3)) {
    t.match(r.json, { detail: /backlog is full/ });
    t.equal(r.headers['retry-after'], '1');
  }
  const acked = replies.filter((r) => r.status === 200).map((r) => r.json.event_id);
  t.same(new Set(eventIds(logLines(config.events.logPath!))), new Set(acked), 'the log holds exactly the acknowledged events');
});

// Three tests on one server, in this order: nothing written, then heartbeats, then PROBS.
t.test('one server with BACKEND_EVENT_KEEP_RECENT=60 and its log in a folder of its own', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'event-unwritable-'));
  const folder = join(root, 'logs');
  mkdirSync(folder);
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const path = join(folder, 'events.jsonl');
  const { url, server, config } = await startTestServer(t, { BACKEND_INFERENCE_WORKERS: '1', BACKEND_EVENT_KEEP_RECENT: '60', BACKEND_EVENT_LOG_JSONL: path });
  const client = jsonClient(t, url, 8);

  t.test('refused events (422) write nothing; list-form probs must match events', async (t) => {
    const cases: Array<[string, unknown, unknown]> = [
      ['/event/payload', { ts: 1 }, { detail: [{ type: 'missing', loc: ['body', 'type'] }] }],
      ['/event/payload', { type: 'BEGIN' }, { detail: [{ loc: ['body', 'type'], input: 'BEGIN' }] }],
      ['/event/payload', { type: 'PROBS', probs: [0.1, 0.2] }, { detail: /events list/ }],
      ['/event/payload', { type: 'PROBS', events: ['fall'], probs: [0.1, 0.2] }, { detail: 'probs: expected 1 values to match events, got 2' }],
      ['/event/payload', '{"type": "END",', { detail: [{ type: 'json_invalid', loc: ['body', 15] }] }],
      ['/event', { event: { event_type: 'x' } }, { detail: [{ type: 'missing', loc: ['body', 'event', 'timestamp'] }] }],
      ['/event/', { event: { timestamp: 'yesterday', event_type: 'x' } }, { detail: /timestamp: invalid datetime/ }],
    ];
    for (const [path, body, detail] of cases) {
      const res = await client.post(path, body);
      t.equal(res.status, 422, `${path} ${JSON.stringify(body)}`);
      t.match(res.json, detail);
    }
    t.same(logLines(config.events.logPath!), [], 'no line for a refused event');
    t.same((await client.get('/event/recent')).json, []);
  });

  t.test('/event/recent: default 50, limit <= 0 gives [], bounded by KEEP_RECENT, non-integer → 422', async (t) => {
    t.same((await client.get('/event/recent')).json, [], 'an empty log has no recent events');
    for (let i = 0; i < 80; i++) t.equal((await client.post('/event/payload', { type: 'HEARTBEAT', frame_idx: i })).status, 200);
    const written = logLines(config.events.logPath!).map((l) => JSON.parse(l));

    const frames = (r: { json: Array<{ data: { frame_idx: number } }> }) => r.json.map((e) => e.data.frame_idx);
    const byDefault = await client.get('/event/recent');
    t.same(byDefault.json, written.slice(-50), 'no limit: the last 50 records, oldest first');
    t.same(frames(byDefault), Array.from({ length: 50 }, (_, i) => 30 + i));
    t.same((await client.get('/event/recent?limit=3')).json, written.slice(-3));
    t.same(frames(await client.get('/event/recent?limit=1000')), Array.from({ length: 60 }, (_, i) => 20 + i), 'at most KEEP_RECENT');
    for (const limit of ['0', '-1', '-1000']) {
      const res = await client.get(`/event/recent?limit=${limit}`);
      t.same([res.status, res.json], [200, []], `limit=${limit} gives []`);
    }
    for (const limit of ['abc', '1.5', '']) {
      const res = await client.get(`/event/recent?limit=${limit}`);
      t.equal(res.status, 422, `limit=${JSON.stringify(limit)} → 422`);
      t.match(res.json, { detail: [{ type: 'int_parsing', loc: ['query', 'limit'], msg: String, input: limit }] }, 'FastAPI-style detail');
    }
  });

  t.test('an unwritable log: 503 with Retry-After and not ready, then recovery; acknowledged lines stay', async (t) => {
    const post = (i: number) => client.post('/event/payload', { type: 'PROBS', frame_idx: i, top_event: 'fall', top_prob: 0.5 });

    const before = await inParallel(Array.from({ length: 20 }, (_, i) => i), 4, post);
    t.same(before.map((r) => r.status), Array(20).fill(200));

    // The folder is moved away and a regular file takes its name; the next reopen (logrotate's SIGHUP) cannot open the log.
    renameSync(folder, `${folder}.saved`);
    writeFileSync(folder, 'not a folder');
    server.reopenEventLog();
    await waitFor(async () => (await client.get('/ready')).status === 503, '/ready to report the log');
    const ready = await client.get('/ready');
    t.match(ready.json, { status: 'not_ready', reasons: [/event log is not writable: a parent of the path is not a directory/] });
    const refused = await inParallel(Array.from({ length: 5 }, (_, i) => 100 + i), 5, post);
    for (const r of refused) {
      t.equal(r.status, 503);
      t.match(r.json, { detail: /event log is not writable/ });
      t.equal(r.headers['retry-after'], '5');
    }
    t.equal((await client.get('/health')).status, 200, '/health stays 200');
    t.equal((await client.get('/event/recent?limit=1')).status, 200, 'reads still work');

    rmSync(folder);
    renameSync(`${folder}.saved`, folder);
    await waitFor(async () => (await client.get('/ready')).status === 200, 'the log to be writable again', 15_000);
    const after = await inParallel(Array.from({ length: 20 }, (_, i) => 200 + i), 4, post);
    t.same(after.map((r) => r.status), Array(20).fill(200));
    t.equal((await client.get('/health')).status, 200);

    // The tests before wrote no PROBS.
    const ids = eventIds(logLines(path).filter((line) => line.includes('"event_type": "PROBS"')));
    t.equal(ids.length, 40);
    t.same(new Set(ids), new Set([...before, ...after].map((r) => r.json.event_id)), 'every acknowledged line, and no refused one');
  });
});
