/**
 * Inputs the fuzzer (test/fuzz.test.ts) found to crash or mis-answer the server, one test each,
 * asserting the documented answer and that the server is still up and answering /health fast.
 * The server runs as a child process (as in the fuzzer), so that one input that kills it fails
 * its own test only; it is started again for the next.
 */
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import { FuzzTarget, ServerDown, type RawResponse } from './fuzz/target.js';
import { FUZZ_SERVER_ENV } from './fuzz/properties.js';
import { DIM, WINDOW } from './fuzz/arbitraries.js';
import { analyzeBody, randomFrames } from './support/windows.js';

// Each crash costs a restart of the server (several seconds on a busy machine).
t.setTimeout(300_000);

const target = new FuzzTarget({ env: FUZZ_SERVER_ENV });
t.teardown(() => target.stop());

const window = analyzeBody(randomFrames(11, WINDOW, DIM));
const nested = (depth: number, inner = '1') => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;
const RESPONSE_LIMIT = 256 * 1024;

async function post(path: string, body: string | object, headers: Record<string, string> = {}): Promise<RawResponse> {
  await target.ensureUp();
  return target.request({ method: 'POST', path, headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** The server is still there and /health answers within a second. */
async function stillUp(t: Test): Promise<void> {
  await t.resolves(target.checkHealth(1_000), 'the server is up and /health answers within 1 s');
}

/** Runs `fn`; a crash of the server fails the test with the server's last words instead of throwing. */
function finding(name: string, fn: (t: Test) => Promise<void>): void {
  t.test(name, async (t) => {
    await target.ensureUp();
    try {
      await fn(t);
    } catch (err) {
      if (err instanceof ServerDown) return void t.fail(`the server died: ${err.reason}\n${err.output.slice(-1_500)}`);
      throw err;
    }
    await stillUp(t);
  });
}

const parse = (res: RawResponse) => JSON.parse(res.text);

// ---- /behavior/analyze: a top-level "data" key is taken for the fast decoder's window ----------

finding('analyze: an extra top-level "data" key is ignored like any other extra key (not taken for a decoded window)', async (t) => {
  const baseline = await post('/behavior/analyze', window);
  t.equal(baseline.status, 200);
  // Those that do not kill the server first.
  for (const data of [1, {}, 'abc']) {
    const res = await post('/behavior/analyze', { ...window, data });
    t.equal(res.status, 200, `"data": ${JSON.stringify(data)} → 200, got ${res.status}: ${res.text.slice(0, 160)}`);
    t.equal(res.text, baseline.text, 'the same answer as without the key');
  }
  const empty = await post('/behavior/analyze', '{"data":1,"frames":[]}');
  t.equal(empty.status, 422, `{"data":1,"frames":[]} is an empty window: 422, got ${empty.status}: ${empty.text.slice(0, 160)}`);
});

finding('analyze: an escaped "d\\u0061ta" key holding a list is the same extra key', async (t) => {
  const res = await post('/behavior/analyze', `${JSON.stringify(window).slice(0, -1)},"d\\u0061ta":[1,2,3]}`);
  t.equal(res.status, 200, res.text.slice(0, 200));
});

// ---- deep nesting -------------------------------------------------------------------------------

finding('event/payload: a 422 whose input is 6000 levels deep ("event": [[[…]]]) is answered, not fatal', async (t) => {
  const res = await post('/event/payload', `{"type":"END","event":${nested(6000)}}`);
  t.equal(res.status, 422, res.text.slice(0, 200));
  t.ok(res.body.length < RESPONSE_LIMIT, `bounded: ${res.body.length} bytes`);
});

finding('echo: an object holding a list 6000 levels deep is echoed or refused, not fatal', async (t) => {
  const res = await post('/echo', `{"x":${nested(6000)}}`);
  t.ok([200, 400, 413, 422].includes(res.status), `a documented answer, got ${res.status}: ${res.text.slice(0, 200)}`);
});

finding('event/payload and echo: 6000 unclosed "[" → 422 json_invalid, not 500', async (t) => {
  for (const path of ['/event/payload', '/echo']) {
    const res = await post(path, `${'['.repeat(6000)}1${']'.repeat(3000)}`);
    t.equal(res.status, 422, `${path}: ${res.text.slice(0, 200)}`);
    if (res.status === 422) t.equal(parse(res).detail?.[0]?.type, 'json_invalid');
  }
});

finding('event (structured): "data" holding a list 6000 levels deep is stored or refused (422), not 500', async (t) => {
  const res = await post('/event/', `{"event":{"timestamp":1764405347.2,"event_type":"END","data":{"a":${nested(6000)}}}}`);
  t.ok([200, 422].includes(res.status), `200 or 422, got ${res.status}: ${res.text.slice(0, 200)}`);
});

// ---- answers in proportion to the question -----------------------------------------------------

finding('analyze: a 1 MB list of empty strings as "frames" gets a bounded 422 (< 256 KiB)', async (t) => {
  const body = `{"frames":[${Array(340_000).fill('""').join(',')}]}`;
  t.ok(body.length < 1024 * 1024, 'the body is within the limit');
  const res = await post('/behavior/analyze', body);
  t.equal(res.status, 422);
  t.ok(res.body.length < RESPONSE_LIMIT, `the 422 is ${res.body.length} bytes`);
});

// ---- the stream ---------------------------------------------------------------------------------

finding('stream: {"type": [[[…8000…]]]} gets an error and the socket stays open', async (t) => {
  const sock = await target.openStream();
  try {
    sock.send(`{"type":${nested(8000, '')}}`);
    sock.send('{"type":"close","stream_id":"after"}');
    const answered = await sock.until(() => sock.received.some((r) => r.json?.stream_id === 'after'), 5_000);
    if (!answered) {
      const down = await target.explain(new Error('no answer on the stream'));
      if (down instanceof ServerDown) throw down;
    }
    t.ok(answered, 'the next message is answered');
    t.equal(sock.received[0]?.json?.type, 'error', 'the deep message got an error');
    t.equal(sock.closed, null, 'the socket is open');
  } finally {
    sock.close();
  }
});

finding('stream: a frame whose features are 5000 objects gets a bounded error (< 64 KiB), not one line per element', async (t) => {
  const sock = await target.openStream();
  try {
    sock.send(`{"stream_id":"cam-1","features":[${Array(5000).fill('{}').join(',')}]}`);
    const answered = await sock.until(() => sock.received.length > 0, 5_000);
    t.ok(answered, 'answered');
    t.equal(sock.received[0]?.json?.type, 'error');
    t.ok((sock.received[0]?.text.length ?? 0) < 64 * 1024, `the error is ${sock.received[0]?.text.length} bytes`);
  } finally {
    sock.close();
  }
});

// ---- HTTP framing ---------------------------------------------------------------------------------

/** Raw bytes in, everything the server sends until it goes quiet (or closes) out. */
function exchange(request: string, quietMs = 300): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    let data = '';
    let timer: NodeJS.Timeout;
    const socket = connect(target.port, '127.0.0.1', () => socket.write(request));
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ data, closed });
    };
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => done(false), quietMs);
    };
    socket.on('data', (d) => {
      data += d;
      idle();
    });
    socket.on('close', () => done(true));
    socket.on('error', reject);
    idle();
  });
}

finding('HEAD is answered without a body, so the next answer on the connection is intact', async (t) => {
  const { data } = await exchange('HEAD /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  const [, afterHead] = data.split('\r\n\r\n');
  t.match(data, /^HTTP\/1\.1 \d{3}/, 'HEAD is answered');
  t.match(afterHead ?? '', /^HTTP\/1\.1 200/, `the GET's answer follows the HEAD's headers directly, got ${JSON.stringify((afterHead ?? '').slice(0, 60))}`);
});

// uWebSockets.js's parser knows a fixed set of methods and closes the connection on any other
// before JavaScript sees the request (README, "HTTP protocol limits"): pinned, and the server goes on.
finding('an unknown method (PROPFIND) is refused by closing the connection, and the server goes on', async (t) => {
  const { data } = await exchange('PROPFIND /health HTTP/1.1\r\nHost: x\r\n\r\n');
  t.equal(data, '', 'nothing is served for it');
});
