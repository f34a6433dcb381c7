/** The `events` CLI as a child process on real temporary logs. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { PROJECT_ROOT } from '../src/paths.js';
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

t.test('prints the last events as the seed table and reports a torn last line', async (t) => {
  const { code, stdout, stderr } = await cli(['--limit', '3', '--file', log]);
  t.equal(code, 0);
  const lines = stdout.trimEnd().split('\n').map((l) => l.trimEnd());
  t.equal(lines[0], `[INFO] Reading last 3 events from: ${log}`);
  t.match(lines[1], /^#\s+Timestamp\s+Type\s+Session\s+User\s+Summary$/);
  t.match(lines[2], /^-+$/);
  t.equal(lines.length, 6, 'header, rule and three rows');
  t.match(lines[3], /^1 {2}2025-11-29 08:36:25 {2}END {4}cam-38 {3}\s*\{"type":"END","ts":1764405385\.0,"frame_idx":38,"event":null,/);
  t.match(lines[4], /^2 {2}2025-11-29 08:36:26 {2}PROBS {2}cam-39 .* 낙상 \(0\.88\)$/);
  t.match(lines[5], /^3 {2}2026-11-29 17:35:47 {2}note {3}\s+kim {3}\{"msg":"x+\.\.\.$/);
  t.equal([...lines[5]!.slice(lines[5]!.indexOf('{'))].length, 80, 'the summary is cut to 80 characters');
  t.match(stderr, /skipped a torn last line \(27 bytes\)/);
});

t.test('defaults: 50 events of BACKEND_EVENT_LOG_JSONL', async (t) => {
  const model = join(dir, 'model.onnx');
  writeFileSync(model, 'placeholder: the configuration only checks that the model file exists');
  const { code, stdout } = await cli([], { BACKEND_EVENT_LOG_JSONL: log, MODEL_CHECKPOINT_PATH: model }, dir);
  t.equal(code, 0);
  t.match(stdout, `[INFO] Reading last 50 events from: ${log}`);
  t.equal(stdout.trimEnd().split('\n').length, 3 + records.length, 'all 41 events (fewer than 50)');
});

t.test('a missing log has no events; bad arguments exit 2', async (t) => {
  const missing = await cli(['--file', join(dir, 'none.jsonl')]);
  t.equal(missing.code, 0);
  t.match(missing.stdout, /No events found\./);
  const bad = await cli(['--limit', 'many']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--limit must be an integer/);
  t.equal((await cli(['--what'])).code, 2);
});
