/**
 * BACKEND_PROCESSES: several server processes on one port under a supervisor, the event side on
 * the shared NATS store. Every request here goes over a connection of its own, so that the
 * kernel may hand it to either process; /ready's `pid` says which one answered.
 */
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { ephemeralPortsStart } from '../src/http/listen.js';
import { cleanUpStream, haveSharedNats, SHARED_NATS_URL, uniqueStream } from './support/nats.js';
import { spawnServer, tempDir, testEnv, type ChildServer } from './support/server.js';
import { metricSample } from './support/metrics.js';
import { waitFor, waitForValue } from './support/wait.js';

interface Answer {
  status: number;
  text: string;
  /** The body parsed as JSON (on first use). */
  json: any;
}

/** One request on `agent` (by default a new connection of its own, so the kernel may hand it to either process). */
function once(port: number, method: 'GET' | 'POST', path: string, body?: unknown, agent: Agent | false = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk) => (text += chunk)).on('end', () => resolve({ status: res.statusCode!, text, get json() { return JSON.parse(text); } }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** GETs in turn over one new connection, so one process answers them all; that process's pid and the answers. */
async function onOneConnection(port: number, paths: string[]): Promise<{ pid: number; answers: Answer[] }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const pid = (await once(port, 'GET', '/ready', undefined, agent)).json.pid as number;
    const answers: Answer[] = [];
    for (const path of paths) answers.push(await once(port, 'GET', path, undefined, agent));
    return { pid, answers };
  } finally {
    agent.destroy();
  }
}

/** The supervisor's child processes, from the kernel. */
function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number).sort((a, b) => a - b);
}

function logEntries(server: ChildServer): any[] {
  return server.stdout().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

t.test('BACKEND_PROCESSES=0 divides the cores between processes\' main threads and inference workers', async (t) => {
  const dir = tempDir();
  const cores = availableParallelism();
  t.equal(loadConfig({ BACKEND_PROCESSES: '0' }, dir).processes, 1, 'the file store: one process');
  const auto = loadConfig({ BACKEND_PROCESSES: '0', BACKEND_EVENT_STORE: 'nats' }, dir);
  t.equal(auto.processes, Math.max(1, Math.floor(cores / 2)), 'the NATS store: one process per 2 cores');
  t.ok(auto.processes * (1 + auto.inference.workers) <= Math.max(cores, 2 * auto.processes), 'main threads and workers fit the cores');
  const four = loadConfig({ BACKEND_PROCESSES: '4', BACKEND_EVENT_STORE: 'nats' }, dir);
  t.equal(four.inference.workers, Math.max(1, Math.floor(cores / 4) - 1), 'each process: its quarter of the cores but its main thread');
  t.equal(loadConfig({ BACKEND_PROCESSES: '4', BACKEND_EVENT_STORE: 'nats', BACKEND_INFERENCE_WORKERS: '3' }, dir).inference.workers, 3, 'a set worker count is per process');
});

t.test('more than one process with the file store refuses to start, with one line', async (t) => {
  const dir = tempDir();
  const server = spawnServer(testEnv(dir, { BACKEND_PROCESSES: '2' }), dir);
  t.equal(await server.exited, 1);
  t.equal(server.stderr(), 'startup refused: BACKEND_PROCESSES: 2 processes need the shared event store (BACKEND_EVENT_STORE=nats); the file store is this process alone\n');
});

t.test('two processes on one port with the NATS store', async (t) => {
  if (!(await haveSharedNats(t))) return;
  const stream = uniqueStream('PROCESSES');
  cleanUpStream(t, stream);
  const dir = tempDir();
  // Port 0: the supervisor picks one port for both.
  const server = spawnServer(testEnv(dir, { BACKEND_PROCESSES: '2', BACKEND_EVENT_STORE: 'nats', NATS_URL: SHARED_NATS_URL, BACKEND_NATS_STREAM: stream }), dir);
  t.teardown(async () => {
    server.proc.kill('SIGKILL'); // its processes stop on their own when it is gone
    await server.exited;
  });
  const supervisor = server.proc.pid!;
  let exitedEarly: number | null | undefined;
  void server.exited.then((code) => { exitedEarly = code; });
  const announced = await waitForValue(() => {
    // A supervisor that gave up is a failure now, with what it said, not a minute's wait.
    if (exitedEarly !== undefined) throw new Error(`the supervisor exited with ${exitedEarly}: ${server.stderr()}${server.stdout().slice(-2000)}`);
    return logEntries(server).find((e) => e.msg === 'listening' && e.pid === supervisor);
  }, (entry) => entry !== undefined, 'the supervisor\'s "listening" line', 90_000); // past the supervisor's own 60 s bound on a process's start, so that its reason shows
  t.equal(announced.processes, 2, 'one "listening" line from the supervisor with the process count');
  const port: number = announced.port;
  t.ok(port > 0, 'on the port it picked');
  const ephemeral = ephemeralPortsStart();
  if (ephemeral !== null && ephemeral >= 2048) t.ok(port < ephemeral, 'below the ephemeral range, where no connection or port-0 server can take it before the processes bind it');
  let eventsPosted = 0;
  await waitFor(() => logEntries(server).some((e) => e.msg === 'ready: every server process has every model'), 'both processes ready');

  /** Asks /ready over fresh connections until two different processes have answered; their pids. */
  const answeringPids = async () => {
    const pids = new Set<number>();
    await waitFor(async () => pids.add((await once(port, 'GET', '/ready')).json.pid).size === 2, 'both processes answering');
    return [...pids].sort((a, b) => a - b);
  };

  await t.test('requests reach both processes, the supervisor\'s two children', async (t) => {
    t.same(await answeringPids(), childrenOf(supervisor));
  });

  await t.test('an event posted through one process is in /event/recent from every process', async (t) => {
    const posted = await once(port, 'POST', '/event/payload', { type: 'END', event: 'fall', duration_sec: 2.5, session_id: 'cam-processes' });
    t.equal(posted.status, 200);
    eventsPosted++;
    const seenBy = new Map<number, boolean>();
    await waitFor(async () => {
      const { pid, answers: [recent] } = await onOneConnection(port, ['/event/recent?limit=10']);
      seenBy.set(pid, (recent!.json as { event_id: string }[]).some((e) => e.event_id === posted.json.event_id));
      return seenBy.size === 2 && [...seenBy.values()].every(Boolean);
    }, 'the event in /event/recent from both processes');
    t.pass('both processes list it');
  });

  /** A scrape over a new connection: the answering process's pid and the text. */
  const scrape = async () => {
    const { pid, answers: [metrics] } = await onOneConnection(port, ['/metrics']);
    if (metrics!.status !== 200) throw new Error(`GET /metrics answered ${metrics!.status}: ${metrics!.text}`);
    return { pid, text: metrics!.text };
  };

  await t.test('/metrics answers for both processes, whichever takes the scrape', async (t) => {
    // Events posted over new connections until each process has taken at least 5.
    const postedTo = new Map<number, number>();
    await waitFor(async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const pid = (await once(port, 'GET', '/ready', undefined, agent)).json.pid as number;
        const res = await once(port, 'POST', '/event/payload', { type: 'START', event: 'fall', session_id: 'cam-metrics' }, agent);
        if (res.status !== 200) throw new Error(`POST /event/payload answered ${res.status}: ${res.text}`);
        postedTo.set(pid, (postedTo.get(pid) ?? 0) + 1);
        eventsPosted++;
      } finally {
        agent.destroy();
      }
      return postedTo.size === 2 && [...postedTo.values()].every((n) => n >= 5);
    }, 'events posted through both processes');
    const served = (await once(port, 'GET', '/ready')).json.models[0] as { name: string; version: string };

    // Scrapes over new connections until each process has answered three: every one sums both.
    const answeredBy = new Map<number, number>();
    const wrong: string[] = [];
    await waitFor(async () => {
      const { pid, text } = await scrape();
      answeredBy.set(pid, (answeredBy.get(pid) ?? 0) + 1);
      const figures = {
        written: metricSample(text, 'event_log_lines_written_total'),
        scraped: metricSample(text, 'backend_processes_scraped'),
        missing: metricSample(text, 'backend_processes_missing'),
        serving: metricSample(text, 'model_info', { model: served.name, version: served.version }),
      };
      const expected = { written: eventsPosted, scraped: 2, missing: 0, serving: 2 };
      if (JSON.stringify(figures) !== JSON.stringify(expected)) wrong.push(`from ${pid}: ${JSON.stringify(figures)}`);
      return answeredBy.size === 2 && [...answeredBy.values()].every((n) => n >= 3);
    }, 'scrapes answered by both processes');
    t.same(wrong, [], `every scrape: ${eventsPosted} events written, 2 processes scraped, none missing, the model served by 2`);
    t.same([...answeredBy.keys()].sort((a, b) => a - b), childrenOf(supervisor), 'answered by each process');
  });

  await t.test('a process killed with SIGKILL is replaced, and the port keeps being served', async (t) => {
    const [victim, survivor] = childrenOf(supervisor) as [number, number];
    process.kill(victim, 'SIGKILL');
    await waitFor(() => gone(victim), 'the killed process reaped by the supervisor');
    // Its replacement is started 250 ms later and takes a second or more to listen: meanwhile a
    // scrape holds the survivor's figures alone, and says so.
    const during = await scrape();
    t.equal(during.pid, survivor, 'the survivor answers a scrape');
    t.equal(metricSample(during.text, 'backend_processes_scraped'), 1, 'one process scraped');
    t.equal(metricSample(during.text, 'backend_processes_missing'), 1, 'one missing');
    const replaced = await waitForValue(() => childrenOf(supervisor), (pids) => pids.length === 2 && !pids.includes(victim), 'a new process in place of the killed one');
    t.ok(replaced.includes(survivor), 'the other process was left alone');
    const restart = logEntries(server).find((e) => e.msg === 'server process exited unexpectedly; restarting it');
    t.match(restart, { level: 40, pid: victim, signal: 'SIGKILL' }, 'the restart is logged');
    await waitFor(() => logEntries(server).some((e) => e.msg === 'server process restarted and ready'), 'the new process ready');
    t.same(await answeringPids(), replaced, 'both answer again');
  });

  await t.test('SIGTERM stops every process, then the supervisor', async (t) => {
    const pids = childrenOf(supervisor);
    server.proc.kill('SIGTERM');
    t.equal(await server.exited, 0, 'exit status 0');
    t.ok(pids.every(gone), 'no server process is left');
    t.equal(logEntries(server).filter((e) => e.msg === 'shutdown complete').length, 2, 'each shut down in order');
  });
});
