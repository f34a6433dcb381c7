/** EventLog with the real writer thread and real files: group commit, backlog, disk errors, reopen, close, refill. */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { AppError } from '../src/common/errors.js';
import { EventLog } from '../src/events/event-log.js';
import { recordFromPayload, recordFromStructured, serializeRecord, type EventRecord } from '../src/events/records.js';
import { createMetrics } from '../src/metrics.js';
import { captureLogger, eventOptions } from './support/event-options.js';
import { registryMetric } from './support/metrics.js';
import { waitFor } from './support/wait.js';

/** The recent list as records: what GET /event/recent answers. */
const recent = (log: EventLog, limit: number): EventRecord[] => JSON.parse(log.recentJson(limit));

const silent = pino({ level: 'silent' });
const root = mkdtempSync(join(tmpdir(), 'event-log-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => {
  const dir = join(root, `case-${dirs++}`);
  mkdirSync(dir);
  return dir;
};

const payload = (i: number, session = 'cam-1') => recordFromPayload({ type: 'PROBS', frame_idx: i, top_event: '낙상', top_prob: i / 10_000, session_id: session }, 1764405347 + i);
const fileLines = (path: string) => readFileSync(path, 'utf8').split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);

t.test('thousands of concurrent appends: one valid line each, no loss, no duplicates, acked only once written', async (t) => {
  const dir = newDir();
  const options = eventOptions(dir, { events: { keepRecent: 50 } });
  const metrics = createMetrics();
  const log = await EventLog.open(options, silent, metrics);
  const path = options.events.logPath!;
  const records: EventRecord[] = [];
  const acks: Array<Promise<void>> = [];
  let visibleAtAck = 0;
  let checkedAtAck = 0;
  for (let burst = 0; burst < 50; burst++) {
    for (let i = 0; i < 100; i++) {
      const record = payload(burst * 100 + i, `cam-${i % 7}`);
      records.push(record);
      const sampled = i === 99;
      acks.push(log.append(record).then(() => {
        if (!sampled) return;
        checkedAtAck += 1;
        if (readFileSync(path, 'utf8').includes(record.event_id)) visibleAtAck += 1;
      }));
    }
    // Let the writer work between bursts, as requests arriving over time would.
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(acks);
  t.equal(checkedAtAck, 50);
  t.equal(visibleAtAck, checkedAtAck, 'every sampled event was in the file when its append resolved');

  const lines = fileLines(path);
  t.equal(lines.length, records.length, 'one line per event');
  const ids = lines.map((line) => (JSON.parse(line) as EventRecord).event_id);
  t.equal(new Set(ids).size, records.length, 'no duplicates');
  t.same(new Set(ids), new Set(records.map((r) => r.event_id)), 'no loss');
  t.same(new Set(lines), new Set(records.map(serializeRecord)), 'each line is the serialized record');

  t.same(recent(log, 50).map((r) => r.event_id), ids.slice(-50), 'recent holds the last records in log order');
  t.same(JSON.parse(log.recentJson(3)), lines.slice(-3).map((l) => JSON.parse(l)));
  t.same(recent(log, 0), []);
  t.equal(await registryMetric(metrics, 'event_log_lines_written_total'), records.length);
  const batches = Number(/event_log_write_batch_lines_count (\d+)/.exec(await metrics.registry.getSingleMetricAsString('event_log_write_batch_lines'))![1]);
  t.ok(batches <= 50, `appends of one turn share one write (${batches} writes for 50 bursts)`);
  t.equal(await registryMetric(metrics, 'event_log_backlog'), 0);
  await log.close();
});

t.test('a full backlog refuses with event_backlog_full instead of growing', async (t) => {
  const dir = newDir();
  const log = await EventLog.open(eventOptions(dir, { events: { backlogMax: 5 } }), silent, createMetrics());
  const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => log.append(payload(i))));
  const refused = results.filter((r) => r.status === 'rejected');
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 5);
  t.equal(refused.length, 15);
  for (const r of refused) t.match((r as PromiseRejectedResult).reason, { code: 'event_backlog_full', status: 503 });
  t.ok((refused[0] as PromiseRejectedResult).reason instanceof AppError);
  await log.append(payload(99));
  t.equal(fileLines(join(dir, 'events.jsonl')).length, 6, 'the backlog frees up once written');
  await log.close();
});

t.test('an unwritable path: 503-class error and not ready, then recovery once it is fixed', async (t) => {
  const dir = newDir();
  const blocker = join(dir, 'logs');
  writeFileSync(blocker, 'a regular file where the log folder should be');
  const metrics = createMetrics();
  const log = await EventLog.open(eventOptions(dir, { events: { logPath: join(blocker, 'events.jsonl') } }), silent, metrics);
  t.match(log.readiness(), /not writable/);
  await t.rejects(log.append(payload(1)), { code: 'event_log_unavailable', status: 503 });
  t.ok(await registryMetric(metrics, 'event_log_write_errors_total') >= 1);
  unlinkSync(blocker);
  await waitFor(() => log.readiness() === null, 'the log to become writable');
  const record = payload(2);
  await log.append(record);
  t.same(fileLines(join(blocker, 'events.jsonl')), [serializeRecord(record)]);
  await log.close();
});

t.test('a directory where the log file should be: not ready until it is gone', async (t) => {
  const dir = newDir();
  const path = join(dir, 'events.jsonl');
  mkdirSync(path);
  const log = await EventLog.open(eventOptions(dir), silent, createMetrics());
  t.match(log.readiness(), /the path is a directory/);
  await t.rejects(log.append(payload(1)), { code: 'event_log_unavailable' });
  rmSync(path, { recursive: true });
  await waitFor(() => log.readiness() === null, 'the log to become writable');
  await log.append(payload(2));
  await log.close();
  t.equal(fileLines(path).length, 1);
});

t.test('a disk error mid-run loses no acknowledged line and leaves no partial one', async (t) => {
  const dir = newDir();
  const target = join(dir, 'real.jsonl');
  const link = join(dir, 'events.jsonl');
  symlinkSync(target, link);
  const log = await EventLog.open(eventOptions(dir, { events: { logPath: link } }), silent, createMetrics());
  const before = Array.from({ length: 10 }, (_, i) => payload(i));
  await Promise.all(before.map((r) => log.append(r)));
  // /dev/full answers every write with ENOSPC: a full disk.
  unlinkSync(link);
  symlinkSync('/dev/full', link);
  log.reopen();
  const failed = await Promise.allSettled([log.append(payload(10)), log.append(payload(11))]);
  t.same(failed.map((r) => r.status), ['rejected', 'rejected']);
  t.match((failed[0] as PromiseRejectedResult).reason, { code: 'event_log_unavailable' });
  t.match(log.readiness(), /no space left/);
  unlinkSync(link);
  symlinkSync(target, link);
  await waitFor(() => log.readiness() === null, 'recovery');
  const after = payload(12);
  await log.append(after);
  await log.close();
  t.same(fileLines(target), [...before, after].map(serializeRecord), 'acknowledged lines only, all of them, nothing torn');
});

t.test('close() drains every pending line and then refuses appends', async (t) => {
  const dir = newDir();
  const log = await EventLog.open(eventOptions(dir), silent, createMetrics());
  const acks = Array.from({ length: 2000 }, (_, i) => log.append(payload(i)));
  const closed = log.close();
  await t.resolves(Promise.all(acks), 'appends made before close are all written');
  await closed;
  t.equal(fileLines(join(dir, 'events.jsonl')).length, 2000);
  await t.rejects(log.append(payload(1)), { code: 'shutting_down' });
});

t.test('reopen() after a rotation writes to the new file', async (t) => {
  const dir = newDir();
  const path = join(dir, 'events.jsonl');
  const log = await EventLog.open(eventOptions(dir), silent, createMetrics());
  const first = [payload(1), payload(2)];
  for (const r of first) await log.append(r);
  renameSync(path, `${path}.1`);
  log.reopen();
  const second = [payload(3), payload(4)];
  await Promise.all(second.map((r) => log.append(r)));
  await log.close();
  t.same(fileLines(`${path}.1`), first.map(serializeRecord), 'the rotated file keeps what came before');
  t.same(fileLines(path), second.map(serializeRecord), 'the new file gets what came after');
});

t.test('start refills recent from the tail, skipping and reporting a torn last line, which is cut off', async (t) => {
  const dir = newDir();
  const path = join(dir, 'events.jsonl');
  const old = Array.from({ length: 30 }, (_, i) => payload(i));
  const last = payload(30);
  const torn = '{"timestamp": "2026-11-29T0';
  writeFileSync(path, `${old.map(serializeRecord).join('\n')}\nnot json at all\n${serializeRecord(last)}\n${torn}`);
  const { logger, records } = captureLogger();
  const log = await EventLog.open(eventOptions(dir, { events: { keepRecent: 5 } }), logger, createMetrics());
  t.same(recent(log, 100).map((r) => r.event_id), [old[27]!, old[28]!, old[29]!, last].map((r) => r.event_id),
    'the last five lines hold four records and one invalid line');
  const report = records.find((r) => r.msg === 'event log tail had lines that were skipped');
  t.match(report, { torn_last_line_bytes: Buffer.byteLength(torn), invalid_lines: 1 });
  const next = payload(100);
  await log.append(next);
  await log.close();
  const lines = fileLines(path);
  t.equal(lines.at(-1), serializeRecord(next), 'the torn fragment is gone and the new line stands alone');
  t.equal(lines.length, old.length + 3);
  t.equal(lines.at(-2), serializeRecord(last));
});

t.test('restart refills recent with what the previous run wrote', async (t) => {
  const dir = newDir();
  const options = eventOptions(dir, { events: { keepRecent: 10 } });
  const first = await EventLog.open(options, silent, createMetrics());
  const written = Array.from({ length: 25 }, (_, i) => payload(i));
  await Promise.all(written.map((r) => first.append(r)));
  await first.close();
  const second = await EventLog.open(options, silent, createMetrics());
  t.same(recent(second, 10).map((r) => r.event_id), written.slice(-10).map((r) => r.event_id));
  t.equal(second.recentJson(1), `[${serializeRecord(written[24]!)}]`, 'recentJson serves the bytes of the log');
  await second.close();
});

t.test('with no log file, appends succeed and recent still works', async (t) => {
  const log = await EventLog.open(eventOptions(newDir(), { events: { logPath: null } }), silent, createMetrics());
  const record = recordFromStructured({ timestamp: '2026-11-29T08:35:47Z', event_type: 'note', data: { a: 1 } });
  await log.append(record);
  t.same(recent(log, 5), [record]);
  t.equal(log.readiness(), null);
  await log.close();
});

for (const fsync of ['interval', 'never'] as const) {
  t.test(`fsync=${fsync} writes every line too`, async (t) => {
    const dir = newDir();
    const log = await EventLog.open(eventOptions(dir, { events: { fsync, fsyncIntervalMs: 5 } }), silent, createMetrics());
    await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(payload(i))));
    t.equal(fileLines(join(dir, 'events.jsonl')).length, 300, 'acknowledged means written, whatever the sync policy');
    await log.close();
  });
}
