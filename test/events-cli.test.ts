/** The `events` CLI as a child process on real temporary logs. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { PROJECT_ROOT } from '../src/common/paths.js';
import { recordFromPayload, recordFromStructured, serializeRecord } from '../src/events/records.js';

const run = promisify(execFile);
// By URL, so the loader is found whatever the working directory.
const tsx = pathToFileURL(join(PROJECT_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const dir = mkdtempSync(join(tmpdir(), 'events-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[], env: NodeJS.ProcessEnv = {}, cwd = PROJECT_ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', tsx, join(PROJECT_ROOT, 'src/cli/events.ts'), ...args], { cwd, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const log = join(dir, 'events.jsonl');
const records = Array.from({ length: 40 }, (_, i) => recordFromPayload({
  type: i % 2 ? 'PROBS' : 'END', ts: 1764405347 + i, frame_idx: i, top_event: i % 2 ? '낙상' : null, top_prob: i % 2 ? 0.875 : null, session_id: `cam-${i}`,
}, 0));
records.push(recordFromStructured({ timestamp: '2026-11-29T17:35:47.5+09:00', event_type: 'note', user_id: 'kim', data: { msg: 'x'.repeat(120) } }));
writeFileSync(log, `${records.map(serializeRecord).join('\n')}\n{"timestamp": "2026-11-29T0`);

t.test('prints the last events as a table and reports a torn last line', async (t) => {
  const { code, stdout, stderr } = await cli(['--limit', '3', '--file', log]);
  t.equal(code, 0);
  const lines = stdout.trimEnd().split('\n');
  t.equal(lines[0], `[INFO] Reading last 3 events from: ${log}`);
  t.match(lines[1], /^#\s+Time\s+Type\s+Session\s+Event\s+Prob\s+Duration\s+Detail$/);
  t.match(lines[2], /^-+$/);
  t.equal(lines.length, 6, 'header, rule and three rows');
  t.equal(lines[3], '1  2025-11-29 08:36:25  END    cam-38                          frame=38');
  t.equal(lines[4], '2  2025-11-29 08:36:26  PROBS  cam-39   낙상     0.88            frame=39', 'PROBS and HEARTBEAT show the top event');
  t.match(lines[5], /^3 {2}2026-11-29 17:35:47 {2}note {3}\s+user=kim \{"msg":"x+\.\.\.$/);
  t.equal([...lines[5]!.slice(lines[5]!.indexOf('user='))].length, 60, 'the detail is cut to 60 characters');
  t.match(stderr, /skipped a torn last line \(27 bytes\)/);
});

t.test('START and END rows: event, probability and the END\'s duration in their columns', async (t) => {
  const file = join(dir, 'start-end.jsonl');
  const start = recordFromPayload({ type: 'START', ts: 1764405341.75, frame_idx: 1000, event: 'fall', prob: 0.93, session_id: 'cam-1' }, 0);
  const end = recordFromPayload({ type: 'END', ts: 1764405347.2, frame_idx: 1234, event: 'fall', prob: 0.91, duration_sec: 5.45, session_id: 'cam-1', user_id: 'guard-7' }, 0);
  writeFileSync(file, `${serializeRecord(start)}\n${serializeRecord(end)}\n`);
  const { code, stdout } = await cli(['--file', file]);
  t.equal(code, 0);
  const [, header, , first, second] = stdout.trimEnd().split('\n');
  const column = (name: string) => header!.indexOf(name);
  t.equal(first, '1  2025-11-29 08:35:41  START  cam-1    fall   0.93            frame=1000');
  t.equal(second, '2  2025-11-29 08:35:47  END    cam-1    fall   0.91     5.5 s  user=guard-7 frame=1234');
  t.equal(second!.indexOf('5.5 s') + '5.5 s'.length, column('Duration') + 'Duration'.length, 'the duration sits under its header');
  t.notMatch(stdout, /\{"type"/, 'no raw JSON');
});

t.test('control characters from the log are printed as visible escapes', async (t) => {
  const file = join(dir, 'controls.jsonl');
  const nasty = recordFromPayload({
    type: 'END', ts: 1764405347.2, event: 'fall\u202e\u2066', duration_sec: 1,
    session_id: 'cam\u001b[2J\u001b]0;owned\u0007', user_id: 'a\u0000b\u007fc\u009bd\u0085e\r\n\tz',
  }, 0);
  writeFileSync(file, `${serializeRecord(nasty)}\n`);
  const { code, stdout } = await cli(['--file', file]);
  t.equal(code, 0);
  t.notMatch(stdout.replaceAll('\n', ''), /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/, 'no control character reaches the terminal');
  t.match(stdout, 'cam\\x1b[2J\\x1b]0;owned\\x07');
  t.match(stdout, 'fall\\u202e\\u2066');
  t.match(stdout, 'user=a\\x00b\\x7fc\\x9bd\\x85e\\x0d\\x0a\\x09z');
  t.equal(stdout.trimEnd().split('\n').length, 4, 'the row stays one line');
});

t.test('defaults: 50 events of BACKEND_EVENT_LOG_JSONL', async (t) => {
  const model = join(dir, 'model.onnx');
  writeFileSync(model, 'placeholder: the configuration only checks that the model file exists');
  const { code, stdout } = await cli([], { BACKEND_EVENT_LOG_JSONL: log, MODEL_CHECKPOINT_PATH: model }, dir);
  t.equal(code, 0);
  t.match(stdout, `[INFO] Reading last 50 events from: ${log}`);
  t.equal(stdout.trimEnd().split('\n').length, 3 + records.length, 'all 41 events (fewer than 50)');
});

t.test('a missing log is an error; an empty one has no events; bad arguments exit 2', async (t) => {
  const path = join(dir, 'none.jsonl');
  const missing = await cli(['--file', path]);
  t.equal(missing.code, 1);
  t.equal(missing.stderr, `no such file: ${path}\n`, 'one line on stderr');
  t.equal(missing.stdout, '');
  const emptyFile = join(dir, 'empty.jsonl');
  writeFileSync(emptyFile, '');
  const empty = await cli(['--file', emptyFile]);
  t.equal(empty.code, 0);
  t.match(empty.stdout, /No events found\./);
  const bad = await cli(['--limit', 'many']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--limit must be an integer/);
  t.equal((await cli(['--what'])).code, 2);
});
