/**
 * One port, one server. uWebSockets.js sets SO_REUSEPORT on a fixed port by default, so a second
 * `npm start` on a port already served used to start silently and take half the connections.
 * Now it refuses with one line; BACKEND_REUSE_PORT=true shares the port on purpose, with a warning.
 */
import t, { type Test } from 'tap';
import { closedPort } from './support/event-http.js';
import { spawnServer, tempDir, testEnv, type ChildServer } from './support/server.js';

/** A server process on `port` (a fixed one: uWS sets SO_REUSEPORT only on those), stopped at the end of the test. */
function serverOn(t: Test, port: number, env: Record<string, string> = {}): ChildServer {
  const dir = tempDir();
  const child = spawnServer(testEnv(dir, { BACKEND_PORT: String(port), BACKEND_INFERENCE_WORKERS: '1', ...env }), dir);
  t.teardown(async () => {
    child.proc.kill('SIGTERM');
    await child.exited;
  });
  return child;
}

/** Whether the process got to listen or exited first. */
function outcome(child: ChildServer): Promise<'listening' | 'exited'> {
  return child.listening.then(() => 'listening', () => 'exited');
}

t.test('a second server on a port already served refuses to start, with one line', async (t) => {
  const port = await closedPort();
  const first = serverOn(t, port);
  t.equal(await first.listening, port);

  const second = serverOn(t, port);
  if ((await outcome(second)) !== 'exited') return t.fail('the second server listens on the same port');
  t.equal(await second.exited, 1, 'exit status 1');
  t.equal(second.stderr(), `startup refused: port ${port} is already in use\n`, 'exactly one line on stderr');

  const health = await fetch(`http://127.0.0.1:${port}/health`);
  t.equal(health.status, 200, 'the first server still serves the port');
});

t.test('BACKEND_REUSE_PORT=true shares the port on purpose, and warns that the event state is per process', async (t) => {
  const port = await closedPort();
  const shared = { BACKEND_REUSE_PORT: 'true' };
  const first = serverOn(t, port, shared);
  t.equal(await first.listening, port);
  const second = serverOn(t, port, shared);
  t.equal(await outcome(second), 'listening', 'a second process that also sets it shares the port');
  for (const child of [first, second]) {
    const warning = child.stdout().split('\n').find((line) => line.includes('BACKEND_REUSE_PORT'));
    t.match(warning, /"level":40.*each keeps its own event log state/, 'each logs the warning');
  }

  const exclusive = serverOn(t, port);
  if ((await outcome(exclusive)) !== 'exited') return t.fail('a process that does not set it listens too');
  t.equal(exclusive.stderr(), `startup refused: port ${port} is already in use\n`);
});
