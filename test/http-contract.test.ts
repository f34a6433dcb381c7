/**
 * The HTTP contract of API.md against the real server (real workers, the bundled model):
 * every endpoint's shape and every class of bad input, and that bad input leaves it healthy.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import t from 'tap';
import { INFERENCE_DEVICES } from '../src/contracts/inference.js';
import { readModelMeta } from '../src/common/model-meta.js';
import { BUNDLED_MODEL_PATH, BUNDLED_MODELS_DIR } from '../src/common/paths.js';
import { startTestServer } from './support/server.js';
import { metric } from './support/metrics.js';
import { analyzeBody, randomFrames } from './support/windows.js';

const meta = readModelMeta(BUNDLED_MODEL_PATH);
const WINDOW = meta.windowSize || 16;
const DIM = meta.featureDim;

t.test('HTTP contract', async (t) => {
  const { url, client, config } = await startTestServer(t, { BACKEND_MAX_BODY_BYTES: '200000', MODEL_CHECKPOINT_PATH: BUNDLED_MODELS_DIR });
  const analyze = (body: unknown) => client.post('/behavior/analyze', body);
  const good = analyzeBody(randomFrames(1, WINDOW, DIM));

  t.test('GET /health', async (t) => {
    const res = await client.get('/health');
    t.equal(res.status, 200);
    t.same(res.json, { status: 'ok' });
    t.equal(res.headers['content-type'], 'application/json');
    t.equal(res.headers['access-control-allow-origin'], '*');
  });

  t.test('GET /ready once the workers have the model', async (t) => {
    const res = await client.get('/ready');
    t.equal(res.status, 200);
    t.equal(res.json.status, 'ready');
    t.same(res.json.workers, { loaded: config.inference.workers, expected: config.inference.workers });
    // The provider the workers loaded: what the configuration allows (auto: CUDA where it loads, else CPU).
    const allowed = config.inference.device === 'auto' ? INFERENCE_DEVICES.filter((d) => d !== 'auto') : [config.inference.device];
    t.ok(allowed.includes(res.json.device), `device ${res.json.device} is one of ${allowed.join(', ')}`);
    t.equal((await client.get('/ready')).json.device, res.json.device, 'and stays the same');
    t.same(res.json.model.events, meta.events);
  });

  t.test('POST /echo', async (t) => {
    const res = await client.post('/echo', { a: 1, nested: { b: ['x', null] } });
    t.equal(res.status, 200);
    t.same(res.json.echo, { a: 1, nested: { b: ['x', null] } });
    t.ok(Math.abs(res.json.ts - Date.now() / 1000) < 60, 'ts is the server time in unix seconds');
    const notObject = await client.post('/echo', [1, 2]);
    t.equal(notObject.status, 422);
    t.equal(notObject.json.detail[0].type, 'model_attributes_type');
    t.same(notObject.json.detail[0].loc, ['body']);
  });

  t.test('POST /behavior/analyze with the agents\' body', async (t) => {
    const res = await analyze(good);
    t.equal(res.status, 200);
    const r = res.json;
    t.same(Object.keys(r), ['is_anomaly', 'normal_score', 'anomaly_score', 'events', 'scores', 'thresholds', 'model'], 'the seed\'s fields, in its order, then the model');
    t.same(r.model, { name: 'behavior_lstm', version: String(meta.source.sha256).slice(0, 12) }, 'the model that scored it: name and shortened checkpoint sha256');
    t.same(r.events, meta.events);
    t.same(r.thresholds, meta.thresholds);
    t.equal(r.scores.length, meta.events.length);
    for (const s of r.scores) t.ok(s > 0 && s < 1, 'sigmoid scores lie in (0, 1)');
    t.equal(r.anomaly_score, Math.max(...r.scores));
    t.equal(r.normal_score, 1 - r.anomaly_score);
    t.equal(r.is_anomaly, r.scores.some((s: number, i: number) => s >= r.thresholds[i]));
  });

  t.test('the general path and the fast path give the same answer', async (t) => {
    const decoded = (decoder: string) => metric(client, 'analyze_bodies_decoded_total', { decoder });
    const [fastBefore, generalBefore] = [await decoded('fast'), await decoded('general')];
    const fast = await analyze(good);
    t.equal(await decoded('fast'), fastBefore + 1, 'the agents\' body takes the fast decoder');
    // An extra top-level field is legal (ignored) but sends the body down the JSON.parse + schema path.
    const general = await analyze({ ...good, camera: 'cam-1' });
    t.equal(await decoded('general'), generalBefore + 1, 'an unusual body takes the general one');
    t.equal(general.status, 200);
    t.same(general.json, fast.json);
  });

  t.test('bad JSON → 422 json_invalid with the byte offset', async (t) => {
    const res = await analyze('{"frames": [1, 2,, 3]}');
    t.equal(res.status, 422);
    t.equal(res.json.detail[0].type, 'json_invalid');
    t.same(res.json.detail[0].loc, ['body', 17]);
    t.equal(res.json.detail[0].msg, 'JSON decode error');
    const empty = await analyze('');
    t.equal(empty.status, 422);
    t.equal(empty.json.detail[0].type, 'missing');
  });

  t.test('schema errors → 422 with one item per problem and loc paths', async (t) => {
    const missing = await analyze({ window: [] });
    t.equal(missing.status, 422);
    t.same(missing.json.detail, [{ type: 'missing', loc: ['body', 'frames'], msg: 'Field required', input: { window: [] } }]);

    const frames = structuredClone(good.frames) as any[];
    frames[3].features[5] = 'abc';
    frames[7].features = 'nope';
    frames[9].index = 1.5;
    const res = await analyze({ frames });
    t.equal(res.status, 422);
    const byLoc = Object.fromEntries(res.json.detail.map((d: any) => [JSON.stringify(d.loc), d]));
    t.equal(byLoc['["body","frames",3,"features",5]']?.type, 'float_parsing');
    t.equal(byLoc['["body","frames",3,"features",5]']?.input, 'abc');
    t.equal(byLoc['["body","frames",7,"features"]']?.type, 'list_type');
    t.equal(byLoc['["body","frames",9,"index"]']?.type, 'int_from_float');
    t.equal(res.json.detail.length, 3);
  });

  t.test('domain errors → 422 saying what was expected and what came', async (t) => {
    const cases: [unknown, RegExp][] = [
      [{ frames: [] }, /frames must not be empty/],
      [analyzeBody(randomFrames(2, WINDOW - 1, DIM)), new RegExp(`no model takes ${WINDOW - 1} frames: this server serves behavior_lstm \\(window 16\\), behavior_lstm_w60 \\(window 60\\)`)],
      [analyzeBody(randomFrames(3, WINDOW, DIM - 1)), new RegExp(`expected feature dimension ${DIM}, got ${DIM - 1}`)],
    ];
    const nonFinite = JSON.stringify(good).replace(/"features":\[[^,]+/, '"features":[1e999');
    cases.push([nonFinite, /frame 0, feature 0: expected a finite number, got Infinity/]);
    for (const [body, pattern] of cases) {
      const res = await analyze(body);
      t.equal(res.status, 422);
      t.equal(typeof res.json.detail, 'string');
      t.match(res.json.detail, pattern);
    }
  });

  t.test('a body over the limit → 413 without reading the rest', async (t) => {
    const big = JSON.stringify({ frames: randomFrames(4, 120, DIM).map((features) => ({ features })) });
    t.ok(big.length > 200_000);
    const res = await analyze(big);
    t.equal(res.status, 413);
    t.match(res.json.detail, /larger than the limit of 200000 bytes/);

    // A chunked body declares no length: it is cut off as soon as it passes the limit.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${url}/behavior/analyze`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (r) => {
        r.resume();
        resolve(r.statusCode!);
      });
      req.on('error', reject);
      for (let i = 0; i < 40; i++) req.write(big.slice(i * 10_000, (i + 1) * 10_000));
      req.end();
    });
    t.equal(status, 413);
  });

  t.test('chunked bodies within the limit are read whole', async (t) => {
    const text = JSON.stringify(good);
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(`${url}/behavior/analyze`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (r) => {
        let data = '';
        r.on('data', (d) => (data += d));
        r.on('end', () => resolve(data));
      });
      req.on('error', reject);
      for (let i = 0; i < text.length; i += 7000) req.write(text.slice(i, i + 7000));
      req.end();
    });
    t.same(JSON.parse(body), (await analyze(good)).json);
  });

  t.test('a client that leaves mid-body does not hurt the server', async (t) => {
    await new Promise<void>((resolve) => {
      const socket = connect(Number(new URL(url).port), '127.0.0.1', () => {
        // Gone as soon as the headers and the start of the body are sent.
        socket.write('POST /behavior/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50000\r\n\r\n{"frames": [', () => socket.destroy());
      });
      socket.on('close', () => resolve());
    });
    t.equal((await analyze(good)).status, 200);
  });

  t.test('404 and 405', async (t) => {
    const nf = await client.get('/no/such/path');
    t.equal(nf.status, 404);
    t.same(nf.json, { detail: 'Not Found' });
    const na = await client.get('/behavior/analyze');
    t.equal(na.status, 405);
    t.same(na.json, { detail: 'Method Not Allowed' });
    t.equal(na.headers.allow, 'POST');
    t.equal((await client.post('/health', {})).status, 405);
  });

  t.test('CORS preflight', async (t) => {
    // Through fetch: the preflight a browser sends.
    const res = await fetch(`${url}/behavior/analyze`, {
      method: 'OPTIONS',
      headers: { origin: 'http://example.test', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    t.equal(res.status, 204);
    t.equal(res.headers.get('access-control-allow-origin'), '*');
    t.match(res.headers.get('access-control-allow-methods') ?? '', /POST/);
  });

  t.test('/openapi.json describes the schemas that validate', async (t) => {
    const res = await client.get('/openapi.json');
    t.equal(res.status, 200);
    t.equal(res.json.openapi, '3.1.0');
    const op = res.json.paths['/behavior/analyze'].post;
    t.same(op.requestBody.content['application/json'].schema, { $ref: '#/components/schemas/AnalyzeRequest' });
    const schemas = res.json.components.schemas;
    t.same(schemas.AnalyzeRequest.required, ['frames']);
    t.same(schemas.AnalyzeRequest.properties.frames.items, { $ref: '#/components/schemas/Frame' });
    t.same(schemas.AnalyzeResponse.required.sort(), ['anomaly_score', 'events', 'is_anomaly', 'normal_score', 'scores', 'thresholds']);
    t.ok(res.json.paths['/health'].get);
    t.match(res.json.paths['/behavior/stream'].get.description, /binary, little-endian/, 'the stream protocol is documented');
    t.same(schemas.StreamFrame.required, ['stream_id']);
    t.ok(schemas.StreamAnalysis.properties.latency_ms, 'with its message schemas');
    t.notOk(res.json.paths['/docs/swagger-ui.css'], 'the docs assets are not API');
  });

  t.test('/docs serves Swagger UI from local files', async (t) => {
    const page = await client.get('/docs');
    t.equal(page.status, 200);
    t.match(page.headers['content-type'], /text\/html/);
    const html = page.text;
    t.match(html, /\/docs\/swagger-ui-bundle\.js/);
    t.notMatch(html, /https?:\/\//, 'no CDN or other outside address');
    const bundle = await client.get('/docs/swagger-ui-bundle.js');
    t.equal(bundle.status, 200);
    t.ok(Buffer.byteLength(bundle.text) > 100_000);
  });

  t.test('/metrics in Prometheus text', async (t) => {
    const res = await client.get('/metrics');
    t.equal(res.status, 200);
    t.match(res.headers['content-type'], /text\/plain/);
    const text = res.text;
    t.match(text, /http_requests_total\{route="behavior_analyze",status="200"\} \d+/);
    t.match(text, /http_requests_total\{route="behavior_analyze",status="422"\} \d+/);
    t.match(text, /inference_batch_size_count\{model="behavior_lstm"\} \d+/);
    t.match(text, /inference_queue_depth\{model="behavior_lstm"\} \d+/);
  });

  t.test('still healthy after all of the above', async (t) => {
    t.equal((await client.get('/health')).status, 200);
    t.equal((await client.get('/ready')).status, 200);
    t.equal((await analyze(good)).status, 200);
  });
});
