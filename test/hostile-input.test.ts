/**
 * Hostile input against the real server: each finding that once stopped the process, or made it
 * spend memory or lie, is one test here. Every test ends by checking that the server still answers.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { FEATURE_DIM } from '../src/features/pose-features.js';
import { encodeBinaryFrame } from '../src/common/stream-frame-encoding.js';
import { MAX_ERROR_ITEMS } from '../src/validation/fastapi-errors.js';
import { MAX_NESTING_DEPTH } from '../src/validation/input-limits.js';
import { startTestServer } from './support/server.js';
import { StreamClient } from './support/stream-client.js';
import { analyzeBody, randomFrames } from './support/windows.js';

const WINDOW = 16;

t.test('hostile input', async (t) => {
  const { url, config, client } = await startTestServer(t, { BACKEND_STREAM_MAX_PER_CLIENT: '3', BACKEND_EVENT_KEEP_RECENT: '400' });
  const alive = async () => t.equal((await client.get(`/health`)).status, 200, 'the server still answers');
  const window = analyzeBody(randomFrames(1, WINDOW, FEATURE_DIM));

  t.test('an analyze body with a "data" key is the client\'s JSON, not a decoded window', async (t) => {
    const empty = await client.post(`/behavior/analyze`, '{"frames":[],"data":"x"}');
    t.equal(empty.status, 422);
    t.match(empty.json.detail, /frames must not be empty/);
    const asString = await client.post(`/behavior/analyze`, { ...window, data: 'x' });
    const asList = await client.post(`/behavior/analyze`, { ...window, data: [] });
    const plain = await client.post(`/behavior/analyze`, window);
    t.equal(plain.status, 200);
    t.same(asString.json, plain.json, 'an extra key is ignored, as the old backend did');
    t.same(asList.json, plain.json);
    await alive();
  });

  t.test('deep nesting is refused before any parser recurses into it', async (t) => {
    const deepArray = `${'['.repeat(6000)}${']'.repeat(6000)}`;
    for (const [path, body] of [
      ['/event/payload', deepArray],
      ['/echo', `{"a":${deepArray}}`],
      ['/event/', `{"event":{"timestamp":1,"event_type":"x","data":${'{"a":'.repeat(1500)}1${'}'.repeat(1500)}}}`],
      ['/behavior/analyze', `{"frames":${deepArray}}`],
    ] as const) {
      const res = await client.post(`${path}`, body);
      t.equal(res.status, 422, path);
      t.equal(res.json.detail[0].type, 'json_invalid', path);
      t.match(res.json.detail[0].ctx.error, `Nesting deeper than ${MAX_NESTING_DEPTH} levels`, path);
    }
    const nested = (depth: number) => `{"event":{"timestamp":1,"event_type":"x","data":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}}`;
    t.equal((await client.post(`/event/`, nested(MAX_NESTING_DEPTH - 2))).status, 200, 'nesting within the limit is accepted');
    await alive();
  });

  t.test('a 422 lists a bounded number of problems and clips what it echoes', async (t) => {
    const strings = (n: number) => `{"frames":[{"features":[${Array.from({ length: n }, () => '""').join(',')}]}]}`;
    const some = await client.post(`/behavior/analyze`, strings(1000));
    t.equal(some.status, 422);
    t.equal(some.json.detail.length, MAX_ERROR_ITEMS + 1, 'a small body: the first problems, and how many more');
    t.match(some.json.detail[0], { type: 'float_parsing', loc: ['body', 'frames', 0, 'features', 0], input: '' });
    t.match(some.json.detail.at(-1), { type: 'too_many_errors', msg: '980 more problems not listed' });
    const megabyte = await client.post(`/behavior/analyze`, strings(330_000));
    t.equal(megabyte.status, 422);
    t.equal(megabyte.json.detail.length, MAX_ERROR_ITEMS + 1, 'a megabyte of bad values: listed from its first items only');
    t.match(megabyte.json.detail[0], { type: 'float_parsing', loc: ['body', 'frames', 0, 'features', 0], input: '' });
    t.match(megabyte.json.detail.at(-1), { type: 'too_many_errors', msg: 'at least 980 more problems not listed' });
    // Problems only past the listing's cut: the first one is still named.
    const late = await client.post(`/behavior/analyze`, `{"frames":[{"features":[${Array(1500).fill('0').join(',')},"x"]}]}`);
    t.match(late.json.detail, [{ type: 'float_parsing', loc: ['body', 'frames', 0, 'features', 1500], input: 'x' }, { type: 'too_many_errors' }]);
    const long = await client.post(`/event/payload`, { type: 'HEARTBEAT', prob: 'x'.repeat(100_000) });
    t.equal(long.status, 422);
    t.ok(JSON.stringify(long.json).length < 2000, 'a 100 KB bad value is not echoed whole');
    t.match(long.json.detail[0].input, /^x{200}… \(99800 more characters\)$/);
    await alive();
  });

  t.test('one stored event has a size cap, so /event/recent answers stay bounded', async (t) => {
    const huge = await client.post(`/event/payload`, { type: 'HEARTBEAT', session_id: 's'.repeat(100_000) });
    t.equal(huge.status, 413);
    t.match(huge.json.detail, /BACKEND_EVENT_MAX_BYTES/);
    const recent = await client.get(`/event/recent?limit=5`);
    t.notOk(JSON.stringify(recent.json).includes('s'.repeat(1000)), 'the refused event was not kept');

    // Events near the cap: an answer of all of them (over 64 KiB) is written as the socket drains, and arrives whole.
    const big = 's'.repeat(config.events.maxEventBytes - 400);
    for (let i = 0; i < 12; i++) t.equal((await client.post(`/event/payload`, { type: 'HEARTBEAT', session_id: big, frame_idx: i })).status, 200);
    const all = await client.get(`/event/recent?limit=12`);
    t.equal(all.status, 200);
    t.same(all.json.map((r: any) => r.data.frame_idx), [...Array(12).keys()]);
    await alive();
  });

  t.test('a long model name is quoted clipped in the answer', async (t) => {
    const name = 'm'.repeat(3000);
    const unknown = await client.post(`/behavior/analyze?model=${name}`, window);
    t.equal(unknown.status, 422);
    t.ok(unknown.text.length < 1000, `a ${unknown.text.length}-byte answer`);
    const missing = await client.get(`/models/${name}`);
    t.equal(missing.status, 404);
    t.ok(missing.text.length < 1000, `a ${missing.text.length}-byte answer`);
  });

  t.test('a "__proto__" event name in the probs list form is kept as a name', async (t) => {
    const res = await client.post(`/event/payload`, { type: 'PROBS', events: ['__proto__', 'fall'], probs: [0.25, 0.5], session_id: 'proto' });
    t.equal(res.status, 200);
    const line = readFileSync(config.events.logPath!, 'utf8').trim().split('\n').find((l) => l.includes(res.json.event_id))!;
    t.match(line, '"probs": {"__proto__": 0.25, "fall": 0.5}');
  });

  t.test('stream messages: deep nesting, odd ids and impossible times get an error and the socket stays open', async (t) => {
    const client = await StreamClient.connect(url);
    t.teardown(() => client.close());
    const errors = () => client.of('error');
    client.send(`{"type":${'['.repeat(8000)}${']'.repeat(8000)}}`);
    await client.until(() => errors().length === 1, 'an error for the nested message');
    t.match(errors()[0].detail, `nests deeper than ${MAX_NESTING_DEPTH} levels`);

    client.send(`{"type":${'['.repeat(20)}${']'.repeat(20)}}`);
    await client.until(() => errors().length === 2, 'an error for the unknown type');
    t.ok(errors()[1].detail.length < 400, 'the detail quotes a bounded description of the value');

    const features = new Float32Array(FEATURE_DIM);
    client.send(encodeBinaryFrame('cam\u0000\u0000\u0000', 'features', features, 1, null));
    await client.until(() => errors().length === 3, 'an error for a stream id with NUL bytes');
    t.match(errors()[2].detail, /stream id must be/);
    client.send(encodeBinaryFrame('x'.repeat(129), 'features', features, 1, null));
    await client.until(() => errors().length === 4, 'an error for a 129-character id');
    client.send(encodeBinaryFrame('cam-1', 'features', features, 1, Infinity));
    await client.until(() => errors().length === 5, 'an error for ts = Infinity (binary)');
    t.match(errors()[4].detail, /capture time/);
    client.send(`{"stream_id":"cam-1","ts":1e999,"features":[${Array(FEATURE_DIM).fill(0).join(',')}]}`);
    await client.until(() => errors().length === 6, 'an error for ts = 1e999 (JSON)');
    t.match(errors()[5].detail, /^ts: /);

    client.send({ type: 'open', stream_id: 'still-open' });
    await client.until(() => client.of('opened').length === 1, 'the socket still serves');
    t.equal(client.closeCode, null);
  });

  t.test('streams are limited per client address, across sockets', async (t) => {
    const sockets = await Promise.all([StreamClient.connect(url), StreamClient.connect(url)]);
    t.teardown(() => sockets.forEach((s) => s.close()));
    const [a, b] = sockets as [StreamClient, StreamClient];
    a.send({ type: 'open', stream_id: 'a1' });
    a.send({ type: 'open', stream_id: 'a2' });
    await a.until(() => a.of('opened').length === 2, 'two streams on the first socket');
    // The earlier test's socket is closed; its stream may still be counted until its close arrives.
    b.send({ type: 'open', stream_id: 'b1' });
    b.send({ type: 'open', stream_id: 'b2' });
    await b.until(() => b.of('opened').length + b.of('error').length === 2, 'answers on the second socket');
    t.equal(b.of('opened').length, 1, 'only one more stream for this address');
    t.match(b.of('error')[0], { code: 'limit', detail: /per client address/ });
  });
});
