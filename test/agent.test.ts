/**
 * The demo agent against the real server (in this process, real workers, bundled model): over the
 * stream and over the seed's HTTP calls, every due analysis comes back, frames flow at about the
 * rate asked, and a scripted fall is seen as a START and an END — pushed by the server (ws) or
 * posted by the agent and kept by the server (http). Then the command line, as a user runs it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { AgentSummary } from '../src/agent/summary.js';
import { AgentStartError, runAgent } from '../src/agent/run-agent.js';
import type { EventRecord } from '../src/events/records.js';
import type { SceneStep } from '../src/features/synthetic-pose.js';
import { PROJECT_ROOT } from '../src/common/paths.js';
import { startTestServer } from './support/server.js';

const FPS = 30;
const DURATION = 5;
/** A fall one second in; the person lies still until the agent stops, so the fall itself has ended by then. */
const FALL: readonly SceneStep[] = [
  { activity: 'stand', seconds: 1 },
  { activity: 'fall', seconds: 1 },
  { activity: 'lying_still', seconds: 10 },
];

const server = await startTestServer(t, { BACKEND_STREAM_MAX_TOTAL: '3' });

function everyAnalysisAnswered(t: Test, summary: AgentSummary): void {
  t.ok(summary.ok, `ok: ${JSON.stringify(summary.perCamera.map((c) => c.problems))}`);
  for (const camera of summary.perCamera) {
    t.ok(camera.framesSent >= FPS * DURATION * 0.5, `${camera.camera}: ${camera.framesSent} frames sent`);
    t.ok(camera.analysesExpected >= camera.framesSent / summary.stride - 16, `${camera.camera}: ${camera.analysesExpected} analyses due`);
    t.equal(camera.analysesAnswered, camera.analysesExpected, `${camera.camera}: every analysis answered`);
    t.equal(camera.errors, 0, `${camera.camera}: no errors`);
    t.ok(camera.latencyMs.p50 !== null && camera.latencyMs.p50 > 0, `${camera.camera}: latency measured`);
  }
}

async function recentEvents(): Promise<EventRecord[]> {
  const response = await server.client.get('/event/recent?limit=200');
  return response.json as EventRecord[];
}

const fallEvents = (records: EventRecord[], camera: string, type: string) =>
  records.filter((r) => r.session_id === camera && r.event_type === type && r.data?.event === 'fall');

t.test('ws: every analysis answered, the fall pushed back as START and END', async (t) => {
  const before = (await recentEvents()).length;
  const summary = await runAgent({ url: server.url, mode: 'ws', cameras: 2, fps: FPS, duration: DURATION, quiet: true, script: FALL });
  t.equal(summary.mode, 'ws');
  everyAnalysisAnswered(t, summary);
  for (const camera of summary.perCamera) {
    t.ok(camera.events.START! >= 1, `${camera.camera}: START received`);
    t.ok(camera.events.END! >= 1, `${camera.camera}: END received`);
    t.equal(camera.events.START, camera.events.END, `${camera.camera}: every START ended`);
    const serverSide = camera.serverLatencyMs;
    t.ok(serverSide !== null && serverSide.p50 !== null && serverSide.p50 > 0 && serverSide.p50 <= serverSide.max!, `${camera.camera}: the server's latency kept (${JSON.stringify(serverSide)})`);
  }
  const written = (await recentEvents()).slice(before);
  for (const camera of ['cam-1', 'cam-2']) {
    t.equal(fallEvents(written, camera, 'START').length, 1, `${camera}: the server logged the fall's START`);
    t.equal(fallEvents(written, camera, 'END').length, 1, `${camera}: the server logged the fall's END`);
  }
});

t.test('http: every analysis answered, the fall posted as START and END', async (t) => {
  const before = (await recentEvents()).length;
  const summary = await runAgent({ url: server.url, mode: 'http', cameras: 2, fps: FPS, duration: DURATION, quiet: true, script: FALL });
  t.equal(summary.mode, 'http');
  everyAnalysisAnswered(t, summary);
  t.equal(summary.total.serverLatencyMs, null, 'no server-side latency over HTTP');
  const posted = (await recentEvents()).slice(before);
  for (const camera of summary.perCamera) {
    const start = fallEvents(posted, camera.camera, 'START');
    const end = fallEvents(posted, camera.camera, 'END');
    t.equal(start.length, 1, `${camera.camera}: the agent posted the fall's START`);
    t.equal(end.length, 1, `${camera.camera}: the agent posted the fall's END`);
    t.ok(posted.indexOf(start[0]!) < posted.indexOf(end[0]!), `${camera.camera}: START before END`);
    t.ok((end[0]!.data!.duration_sec as number) > 0, `${camera.camera}: the END has a duration`);
    t.equal(camera.events.START, posted.filter((r) => r.session_id === camera.camera && r.event_type === 'START').length, `${camera.camera}: the STARTs it counted are those the server kept`);
  }
});

t.test('a stream the server refuses stops the run before it starts', async (t) => {
  const refused = await runAgent({ url: server.url, mode: 'ws', cameras: 4, fps: FPS, duration: DURATION, quiet: true }).catch((err: unknown) => err);
  t.ok(refused instanceof AgentStartError, 'an AgentStartError');
  t.match((refused as Error).message, /^cam-\d: open refused: limit: the server has its maximum of 3 open streams$/);
  const summary = await runAgent({ url: server.url, mode: 'ws', cameras: 3, fps: FPS, duration: 1, quiet: true });
  t.ok(summary.ok, 'the refused run left no stream open behind it');
});

t.test('npm run agent: binary frames on a shared socket, a JSON summary, exit code 0', async (t) => {
  const args = ['--import', 'tsx', join(PROJECT_ROOT, 'src/agent/cli.ts'), '--url', server.url, '--cameras', '2', '--duration', '2', '--binary', '--sockets', 'shared', '--json'];
  const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.equal(code, 0, `exit code 0 (stderr: ${err})`);
  const summary = JSON.parse(out) as AgentSummary;
  t.match(summary, { mode: 'ws', binary: true, sockets: 'shared', cameras: 2, ok: true });
  t.ok(summary.total.analysesAnswered > 0 && summary.total.analysesAnswered === summary.total.analysesExpected, 'every analysis answered');
});

t.test('npm run agent: a bad option is refused with exit code 2', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'src/agent/cli.ts'), '--mode', 'grpc'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  t.equal(await new Promise((resolve) => child.on('exit', resolve)), 2);
  t.match(err, /--mode: expected one of http, ws, got grpc/);
});
