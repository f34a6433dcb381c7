/**
 * The NATS JetStream event store on the shared NATS: records stored byte for byte as the file
 * store writes them (and exported back to the same bytes), a repeated event_id stored once, END
 * memos on the alert subject, pages of older records, two servers sharing one stream, the tail read
 * at start, and a stream that disagrees with the settings refusing the start.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import type { AlertRequest, NatsStoreConfig } from '../src/contracts/writer.js';
import { createLogger } from '../src/common/log.js';
import { PROJECT_ROOT } from '../src/common/paths.js';
import { ALERT_HEADER, alertSubject, decodeAlert, openEventStreamReader, recordSubject, REPLICA_HEADER } from '../src/common/event-stream.js';
import { recordFromPayload, recordFromStructured, serializeRecord } from '../src/events/records.js';
import { JsonlSink } from '../workers/writer/jsonl-sink.js';
import { NatsContext } from '../workers/writer/nats/context.js';
import { NatsSink, PAGE_SCAN_MAX } from '../workers/writer/nats/nats-sink.js';
import { cleanUpStream, haveSharedNats, SHARED_NATS_URL, uniqueStream } from './support/nats.js';
import { spawnServer, startTestServer, tempDir, testEnv, type TestServer } from './support/server.js';
import { waitFor } from './support/wait.js';

const run = promisify(execFile);
const tsx = pathToFileURL(join(PROJECT_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const silent = createLogger('silent');

function natsConfig(stream: string, replicaId = 'test-replica'): NatsStoreConfig {
  return { servers: [SHARED_NATS_URL], stream, replicas: 1, maxAgeSec: 0, maxBytes: 0, replicaId };
}

/** A started NatsSink on `stream`, closed with the test; `followed` collects what it hands on. */
async function openSink(t: Test, stream: string, replicaId?: string) {
  const context = new NatsContext({ config: natsConfig(stream, replicaId), logger: silent, onHealth: () => {} });
  const sink = new NatsSink(context);
  const followed: string[] = [];
  const tail = await sink.start(200, (lines) => followed.push(...lines));
  t.teardown(async () => {
    await sink.close();
    await context.close();
  });
  t.equal(sink.problem(), null, 'the store is usable');
  return { sink, tail, followed };
}

const batchOf = (lines: readonly string[]) => lines.map((line) => `${line}\n`).join('');

/** Records of every shape the server writes: floats in Python form, Korean, nulls, a free-form structured event. */
function sampleLines(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    if (i % 7 === 6) return serializeRecord(recordFromStructured({ timestamp: '2026-11-29T17:35:47.5+09:00', event_type: 'note', user_id: '김', data: { msg: `메모 ${i}`, n: 5 } }));
    const type = ['START', 'END', 'PROBS'][i % 3]!;
    return serializeRecord(recordFromPayload({
      type, ts: 1764405347 + i, frame_idx: i, session_id: `cam-${i % 3}`,
      event: type === 'PROBS' ? null : i % 2 ? 'fall' : 'flailing', prob: 1, duration_sec: type === 'END' ? 5 : null,
      probs: type === 'PROBS' ? [0.5, 0.25] : null, events: ['낙상', 'flailing'],
      top_event: type === 'PROBS' ? (i % 2 ? 'fall' : 'flailing') : null, top_prob: type === 'PROBS' ? 0.5 : null,
    }, 0));
  });
}

/** The events CLI as a child process, in a directory without .env. */
async function eventsCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', tsx, join(PROJECT_ROOT, 'src/cli/events.ts'), ...args], { cwd: tempDir(), env: { PATH: process.env.PATH ?? '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const natsUp = await haveSharedNats(t);

if (natsUp) {
  t.test('records are stored byte for byte as the file store writes them, once per event_id, and export to the same log', async (t) => {
    const stream = uniqueStream();
    cleanUpStream(t, stream);
    const { sink } = await openSink(t, stream);
    const dir = tempDir();
    const logPath = join(dir, 'events.jsonl');
    const file = new JsonlSink({ path: logPath, fsync: 'never', fsyncIntervalMs: 1000, logger: silent, onHealth: () => {} });
    await file.start(0);
    t.teardown(() => file.close());

    const lines = sampleLines(40);
    const end = recordFromPayload({ type: 'END', event: 'fall', duration_sec: 2.5, session_id: 'cam-9', ts: 1764405400 }, 0);
    const endLine = serializeRecord(end);
    const alert: AlertRequest = { event_id: end.event_id, session_id: 'cam-9', event: 'fall', label: '낙상', duration_sec: 2.5, ts: 1764405400, frame_idx: null, received_at_ms: 1764405400123 };
    for (const [batch, alerts] of [[lines.slice(0, 30), []], [[...lines.slice(30), endLine], [alert]]] as const) {
      await file.append(batchOf(batch));
      await sink.append(batchOf(batch), alerts);
    }
    // A batch sent again (an ack lost, a retry): the stream keeps the first of each event_id.
    await sink.append(batchOf([lines[3]!, endLine]), [alert]);

    const nc = await connect({ servers: SHARED_NATS_URL });
    t.teardown(() => nc.close());
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    t.equal(info.state.messages, 41, 'each record stored once');
    const stored = await jsm.streams.getMessage(stream, { seq: 41 });
    t.equal(stored?.subject, alertSubject(stream), 'the END whose memo must be sent is on the alert subject');
    t.same(decodeAlert(stored?.header.get(ALERT_HEADER) ?? ''), alert, 'with its AlertRequest, Korean label included');
    t.equal(stored?.header.get(REPLICA_HEADER), 'test-replica');
    t.equal(stored?.string(), endLine, 'the data is the line, without its newline');
    t.equal((await jsm.streams.getMessage(stream, { seq: 1 }))?.subject, recordSubject(stream));

    const exported = join(dir, 'exported.jsonl');
    const fromNats = await eventsCli(['--export', exported], { BACKEND_EVENT_STORE: 'nats', NATS_URL: SHARED_NATS_URL, BACKEND_NATS_STREAM: stream });
    t.equal(fromNats.code, 0, `the CLI exports from NATS: ${fromNats.stderr}`);
    t.match(fromNats.stderr, `Exported 41 events from ${SHARED_NATS_URL}/${stream}`);
    t.ok(readFileSync(exported).equals(readFileSync(logPath)), 'the export from NATS is the file store\'s log, byte for byte');
    const fileExport = join(dir, 'file-export.jsonl');
    const fromFile = await eventsCli(['--file', logPath, '--export', fileExport], {});
    t.equal(fromFile.code, 0, `the CLI exports from a file: ${fromFile.stderr}`);
    t.ok(readFileSync(fileExport).equals(readFileSync(logPath)), 'the export from a file is the file');
  });

  t.test('page(): older records newest first, with filters and a cursor, and a bound on one request\'s scan', async (t) => {
    const stream = uniqueStream();
    cleanUpStream(t, stream);
    const { sink } = await openSink(t, stream);
    const lines = sampleLines(60);
    await sink.append(batchOf(lines), []);
    const newestFirst = [...lines].reverse();

    const pages: string[][] = [];
    let before: string | null = null;
    do {
      const page = await sink.page({ before, limit: 7 });
      pages.push(page.lines);
      before = page.next;
    } while (before !== null && pages.length < 20);
    t.same(pages.map((p) => p.length), [7, 7, 7, 7, 7, 7, 7, 7, 4], 'full pages, then the rest');
    t.same(pages.flat(), newestFirst, 'the pages walk the whole store, newest first, each record once');

    const parse = (line: string) => JSON.parse(line) as { session_id: string; event_type: string; data: { event?: string; top_event?: string } | null };
    const endsOfCam1 = newestFirst.filter((line) => parse(line).session_id === 'cam-1' && parse(line).event_type === 'END');
    const first = await sink.page({ before: null, limit: 3, camera: 'cam-1', types: ['END'] });
    t.same(first.lines, endsOfCam1.slice(0, 3), 'camera and types');
    const second = await sink.page({ before: first.next, limit: 100, camera: 'cam-1', types: ['END'] });
    t.same(second.lines, endsOfCam1.slice(3), 'the next page of the same filter');
    t.equal(second.next, null, 'the start of the store');
    const falls = await sink.page({ before: null, limit: 100, event: 'fall' });
    t.same(falls.lines, newestFirst.filter((line) => parse(line).data?.event === 'fall' || parse(line).data?.top_event === 'fall'), 'event (or the top event of PROBS)');
    await t.rejects(sink.page({ before: 'abc', limit: 5 }), /not a cursor of the NATS event store/);

    // A record only found after more than a scan's worth of others: the first request stops at its bound.
    const rare = serializeRecord(recordFromPayload({ type: 'START', event: 'fall', session_id: 'rare-cam', ts: 1764400000 }, 0));
    const rareStream = uniqueStream();
    cleanUpStream(t, rareStream);
    const { sink: big } = await openSink(t, rareStream);
    await big.append(batchOf([rare]), []);
    const filler = sampleLines(PAGE_SCAN_MAX + 100);
    for (let i = 0; i < filler.length; i += 1000) await big.append(batchOf(filler.slice(i, i + 1000)), []);
    const stopped = await big.page({ before: null, limit: 10, camera: 'rare-cam' });
    t.same(stopped.lines, [], `nothing within the first ${PAGE_SCAN_MAX} records`);
    t.equal(stopped.next, String(filler.length + 1 - PAGE_SCAN_MAX + 1), 'the cursor says where the scan stopped');
    const found = await big.page({ before: stopped.next, limit: 10, camera: 'rare-cam' });
    t.same(found, { lines: [rare], next: null }, 'the next request goes on from there');
  });

  t.test('two servers on one stream: the tail at start, each lists what the other stores within about a second, the watch page pages the stream', async (t) => {
    const stream = uniqueStream();
    cleanUpStream(t, stream);
    const env = { BACKEND_EVENT_STORE: 'nats', NATS_URL: SHARED_NATS_URL, BACKEND_NATS_STREAM: stream };
    const first = await startTestServer(t, env);
    const post = async (server: TestServer, session: string) => {
      const res = await server.client.post('/event/payload', { type: 'START', event: 'fall', prob: 0.9, session_id: session });
      t.equal(res.status, 200, `POST /event/payload: ${res.text}`);
      return res.json.event_id as string;
    };
    const recentIds = async (server: TestServer) => {
      const res = await server.client.get('/event/recent?limit=100');
      return (res.json as { event_id: string }[]).map((r) => r.event_id);
    };
    const stored = [await post(first, 'cam-a'), await post(first, 'cam-b'), await post(first, 'cam-c')];

    // It keeps two recent events: the watch page's older ones then come from the stream.
    const second = await startTestServer(t, { ...env, BACKEND_EVENT_KEEP_RECENT: '2' });
    t.same(await recentIds(second), stored.slice(-2), 'a server started later lists the stream\'s tail');
    const ready = await second.client.get('/ready');
    t.equal(ready.status, 200, 'ready');
    t.equal(ready.json.event_log, `${SHARED_NATS_URL}/${stream}`, '/ready names the stream');

    for (const [from, to] of [[first, second], [second, first]] as const) {
      const id = await post(from, 'cam-d');
      const posted = performance.now();
      await waitFor(async () => (await recentIds(to)).includes(id), 'the other server to list the event');
      t.comment(`the other server listed it ${Math.round(performance.now() - posted)} ms after the POST was answered (the goal: under 1000 ms)`);
      stored.push(id);
    }
    t.same(await recentIds(first), stored, 'the first server: its own records once, the other\'s in the stream\'s order');
    t.same(await recentIds(second), stored.slice(-2), 'the second server: the newest of the same list');

    // The watch page's history: the board's newest, then older pages read from the stream.
    const listed: string[] = [];
    let next: string | null = null;
    do {
      const res = await second.client.get(`/watch/api/events?limit=2${next === null ? '' : `&before=${encodeURIComponent(next)}`}`);
      t.equal(res.status, 200, `GET /watch/api/events${next === null ? '' : ' (older)'}`);
      listed.push(...(res.json.events as { record: { event_id: string } }[]).map((e) => e.record.event_id));
      next = res.json.next;
    } while (next !== null && listed.length <= stored.length);
    t.same(listed, [...stored].reverse(), 'the watch page pages through the whole stream, newest first');
  });

  t.test('a stream that disagrees with the settings refuses the start with one line', async (t) => {
    const stream = uniqueStream();
    cleanUpStream(t, stream);
    const nc = await connect({ servers: SHARED_NATS_URL });
    t.teardown(() => nc.close());
    await (await jetstreamManager(nc)).streams.add({ name: stream, subjects: [recordSubject(stream), alertSubject(stream)], storage: StorageType.Memory });
    const dir = tempDir();
    const child = spawnServer(testEnv(dir, { BACKEND_EVENT_STORE: 'nats', NATS_URL: SHARED_NATS_URL, BACKEND_NATS_STREAM: stream }), dir);
    t.equal(await child.exited, 1, 'exit code 1');
    t.equal(child.stderr(), `startup refused: event writer thread did not start: NATS stream ${stream} has storage memory, but the event store needs storage file: use another stream name, or remove the stream\n`);
  });
}
