/**
 * The access log (BACKEND_ACCESS_LOG), read from the stdout of the server as `npm start` runs it:
 * which requests get a line, what the line says, and that a flood cannot flood the log.
 */
import t, { type Test } from 'tap';
import { loadConfig } from '../src/config.js';
import { ACCESS_LOG_MAX_PATH } from '../src/http/access-log.js';
import { spawnServer, tempDir, testEnv, type ChildServer } from './support/server.js';

interface LogLine {
  level: number;
  msg: string;
  method?: string;
  path?: string;
  status?: number;
  duration_ms?: number;
  suppressed?: number;
}

interface Running {
  child: ChildServer;
  url: string;
  /** Stops the server (SIGTERM) and resolves once it has exited and its stdout has ended. */
  stop(): Promise<void>;
}

async function start(t: Test, env: Record<string, string>): Promise<Running> {
  const dir = tempDir();
  const child = spawnServer(testEnv(dir, { BACKEND_INFERENCE_WORKERS: '1', ...env }), dir);
  // 'close' comes after the exit and the end of stdout: only then is the log complete.
  const closed = new Promise<void>((resolve) => child.proc.once('close', () => resolve()));
  const port = await child.listening;
  const stop = async () => {
    if (child.proc.exitCode === null) child.proc.kill('SIGTERM');
    await closed;
  };
  t.teardown(stop);
  return { child, url: `http://127.0.0.1:${port}`, stop };
}

function logLines(child: ChildServer): LogLine[] {
  return child.stdout().split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return []; // the last, still partial line
    }
  });
}

const accessLinesOf = (lines: LogLine[]) => lines.filter((l) => l.status !== undefined);
const accessLines = (child: ChildServer) => accessLinesOf(logLines(child));

/** Resolves with the log once `done(lines)` holds, checking on every chunk the server writes. */
function logUntil(child: ChildServer, done: (lines: LogLine[]) => boolean, what: string, timeoutMs = 20_000): Promise<LogLine[]> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const lines = logLines(child);
      if (!done(lines)) return;
      cleanup();
      resolve(lines);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${what}; log so far:\n${child.stdout().slice(-2000)}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.proc.stdout!.off('data', check);
    };
    child.proc.stdout!.on('data', check);
    check();
  });
}

const get = (url: string) => fetch(url).then(async (r) => (await r.arrayBuffer(), r.status));

t.test('errors (the default), at a low rate limit', async (t) => {
  // A low limit, so that the flood outruns it however slowly this machine serves it.
  const limit = 20;
  const { child, url } = await start(t, { BACKEND_ACCESS_LOG_RATE: String(limit) });

  t.test('a 4xx is logged with method, path, status and duration; a 200 is not', async (t) => {
    t.equal(await get(`${url}/health`), 200);
    t.equal(await get(`${url}/no/such/path`), 404);
    const refused = await fetch(`${url}/behavior/analyze`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"frames": [' });
    await refused.arrayBuffer();
    t.equal(refused.status, 422);
    const longPath = `/${'x'.repeat(1000)}`; // under uWebSockets.js's 4 KiB header limit
    t.equal(await get(url + longPath), 404);
    // Lines are written in answer order: a line for the 200 would come before these three.
    const lines = accessLinesOf(await logUntil(child, (ls) => accessLinesOf(ls).length >= 3, 'the three 4xx lines'));
    t.same(lines.map((l) => l.status), [404, 422, 404], 'one line per 4xx, none for the 200');
    const [notFound, invalid, long] = lines;
    t.match(notFound, { level: 30, method: 'GET', path: '/no/such/path', status: 404, msg: 'GET /no/such/path 404' });
    t.type(notFound!.duration_ms, 'number');
    t.ok(notFound!.duration_ms! >= 0 && notFound!.duration_ms! < 10_000, `a duration in ms: ${notFound!.duration_ms}`);
    t.match(invalid, { method: 'POST', path: '/behavior/analyze', status: 422 });
    t.equal(long!.path, `${longPath.slice(0, ACCESS_LOG_MAX_PATH)}…`, `a long path is cut to ${ACCESS_LOG_MAX_PATH} characters`);
    t.ok(long!.msg.length < ACCESS_LOG_MAX_PATH + 20, 'in the message too');
  });

  t.test('a flood of 2,000 404s writes at most the rate limit, and says how many it left out', async (t) => {
    const total = 2000;
    const concurrency = 50;
    let next = 0;
    const statuses = new Map<number, number>();
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const status = await get(`${url}/flood/${next++}`);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    t.same([...statuses], [[404, total]], 'every request answered 404');

    // Every request is accounted for: written, or counted in a summary line (which comes a second later).
    const flooded = (lines: LogLine[]) => lines.filter((l) => l.path?.startsWith('/flood/')).length;
    const suppressed = (lines: LogLine[]) => lines.reduce((sum, l) => sum + (l.suppressed ?? 0), 0);
    const lines = await logUntil(child, (ls) => flooded(ls) + suppressed(ls) >= total, 'the suppressed-lines summary');

    const written = flooded(lines);
    const bound = limit * (1 + seconds) + 1; // a full bucket, then the steady rate
    t.ok(written <= bound, `${written} lines written in ${seconds.toFixed(1)} s (at most ${Math.floor(bound)})`);
    // The bucket was full but for the three lines of the test above.
    t.ok(written >= limit - 3, `the first ${limit - 3} are written (${written})`);
    t.equal(written + suppressed(lines), total, 'written + suppressed = every request');
    const summaries = lines.filter((l) => l.suppressed !== undefined);
    t.ok(summaries.length >= 1 && summaries.length <= Math.ceil(seconds) + 2, `one summary line a second at most (${summaries.length})`);
    for (const s of summaries) t.match(s, { msg: /^access log: \d+ lines suppressed in the last \d+\.\d s$/, limit_per_second: limit });
  });
});

t.test('all: every request is logged at info', async (t) => {
  const { child, url, stop } = await start(t, { BACKEND_ACCESS_LOG: 'all' });
  t.equal(await get(`${url}/health`), 200);
  t.equal(await get(`${url}/nope`), 404);
  await stop();
  t.match(accessLines(child), [
    { level: 30, method: 'GET', path: '/health', status: 200 },
    { level: 30, method: 'GET', path: '/nope', status: 404 },
  ]);
});

t.test('off: no request is logged', async (t) => {
  const { child, url, stop } = await start(t, { BACKEND_ACCESS_LOG: 'off' });
  t.equal(await get(`${url}/health`), 200);
  t.equal(await get(`${url}/nope`), 404);
  await stop();
  t.ok(logLines(child).some((l) => l.msg === 'listening'), 'the log itself is there');
  t.same(accessLines(child), [], 'but no request in it');
});

t.test('the default is errors at 100 lines a second; an unknown mode is refused', async (t) => {
  t.same(loadConfig({}, tempDir()).http.accessLog, { mode: 'errors', linesPerSecond: 100 });
  t.throws(() => loadConfig({ BACKEND_ACCESS_LOG: 'verbose' }, tempDir()), /^BACKEND_ACCESS_LOG: must be one of off, errors, all \(got "verbose"\)$/);
});
