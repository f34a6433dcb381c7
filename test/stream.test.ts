/**
 * GET /behavior/stream on the real server: a streamed fall gives START then END (written to the
 * log and sent to the Kakao stand-in), stream results equal /behavior/analyze, bad messages get
 * their error while the stream goes on, and the limits hold.
 */
import t from 'tap';
import { BUNDLED_MODELS_DIR } from '../src/common/paths.js';
import { computeFeatures, FEATURE_DIM } from '../src/features/pose-features.js';
import { generateScene, PoseSimulator } from '../src/features/synthetic-pose.js';
import { analyzeRequest } from '../src/common/analysis-json.js';
import { encodeBinaryFrame, keypointsJson } from '../src/common/stream-frame-encoding.js';
import { logLines } from './support/event-http.js';
import { KakaoStandin } from './support/kakao-standin.js';
import { metric } from './support/metrics.js';
import { startTestServer } from './support/server.js';
import { StreamClient } from './support/stream-client.js';
import { waitFor } from './support/wait.js';

const WINDOW = 16;
/** The analysis of frame `i` is due (window full, then every `stride` frames). */
const due = (i: number, stride = 4) => i >= WINDOW - 1 && (i - (WINDOW - 1)) % stride === 0;

t.test('a streamed fall: START then END, in the log, memo to Kakao', async (t) => {
  const kakao = await KakaoStandin.start();
  t.teardown(() => kakao.close());
  const { url, config, client: http } = await startTestServer(t, {
    KAKAO_ACCESS_TOKEN: kakao.issueAccessToken(),
    KAKAO_API_BASE_URL: kakao.url,
    BACKEND_STREAM_START_AFTER: '2',
    BACKEND_STREAM_END_AFTER: '2',
  });
  const client = await StreamClient.connect(url);
  t.teardown(() => client.close());
  client.send({ type: 'open', stream_id: 'hall', events: true, stride: 4, session_id: 'cam-hall', user_id: 'guard-1' });
  await client.until(() => client.of('opened').length === 1, 'opened');

  const sim = new PoseSimulator({ seed: 3, dropRate: 0 });
  sim.play([{ activity: 'stand', seconds: 2 }, { activity: 'fall', seconds: 1 }, { activity: 'lying_still', seconds: 5 }, { activity: 'get_up', seconds: 3 }, { activity: 'stand', seconds: 3 }]);
  for (let i = 0; i < 14 * 30; i++) {
    client.send({ stream_id: 'hall', index: i, ts: 1_764_405_000 + i / 30, keypoints: keypointsJson(sim.next().keypoints) });
    // Pace by the answers, so that every window is analysed (no latest-wins skipping).
    if (due(i)) await client.until(() => client.of('analysis').some((a) => a.index === i), `analysis of frame ${i}`);
  }
  await client.until(() => client.of('event').filter((e) => e.payload.event === 'lying_still').length >= 2, 'lying_still START and END');

  const events = client.of('event').map((e) => e.payload);
  const sequence = events.map((e) => `${e.type} ${e.event}`);
  t.ok(sequence.indexOf('START fall') >= 0 && sequence.indexOf('START fall') < sequence.indexOf('END fall'), `START fall before END fall: ${sequence}`);
  t.ok(sequence.indexOf('START lying_still') < sequence.indexOf('END lying_still'), 'START lying_still before its END');
  const lying = events.find((e) => e.type === 'END' && e.event === 'lying_still');
  t.ok(lying.duration_sec > 3 && lying.duration_sec < 7, `lying still for about the 5 s scripted (${lying.duration_sec})`);
  const fall = events.find((e) => e.type === 'END' && e.event === 'fall');
  t.ok(fall.duration_sec > 0 && fall.duration_sec < 3, `the fall itself is short (${fall.duration_sec})`);
  t.equal(client.of('analysis').reduce((n, a) => n + a.dropped, 0), 0, 'no analysis dropped');

  const logged = logLines(config.events.logPath!).map((l) => JSON.parse(l));
  const ends = logged.filter((r) => r.event_type === 'END');
  t.same(ends.map((r) => r.data.event).sort(), ['fall', 'lying_still']);
  t.ok(ends.every((r) => r.session_id === 'cam-hall' && r.user_id === 'guard-1'), 'written with the stream\'s session and user');
  const recent = await http.get('/event/recent?limit=10');
  t.same(recent.json.map((r: any) => r.event_id), logged.map((r) => r.event_id), 'and in the recent list');

  await waitFor(() => kakao.deliveredMemos().length >= 2, 'the memos of both ENDs');
  const memos = kakao.deliveredMemos();
  t.equal(memos.length, 2, 'one memo per END');
  t.match(memos.join('\n'), /- 최종 이벤트 : 낙상 \(fall\)\n- 카메라 : cam-hall\n/, 'by its label, with the stream\'s session as the camera');
  t.match(memos.join('\n'), new RegExp(`- 지속시간 : 00:00:0\\d \\(${lying.duration_sec.toFixed(1)}s\\)`));
});

t.test('every bad message gets its error and the stream goes on', async (t) => {
  // The bundled set (windows 16 and 60), so the errors name both models.
  const { url, client: http } = await startTestServer(t, { MODEL_CHECKPOINT_PATH: BUNDLED_MODELS_DIR });
  const client = await StreamClient.connect(url);
  t.teardown(() => client.close());
  const good = Array.from({ length: FEATURE_DIM }, (_, i) => Math.sin(i));
  const binary = (mutate: (view: DataView, bytes: Uint8Array) => void, values = FEATURE_DIM) => {
    const buffer = encodeBinaryFrame('s1', 'features', new Float32Array(values), 1, null);
    mutate(new DataView(buffer), new Uint8Array(buffer));
    return buffer;
  };
  const cases: [unknown, RegExp][] = [
    ['{"stream_id": "s1", "features": [1, 2', /not valid JSON/],
    ['[1, 2, 3]', /must be a JSON object/],
    [{ type: 'dance', stream_id: 's1' }, /unknown message type "dance"/],
    [{ features: good }, /stream_id: Field required/],
    [{ stream_id: 's1' }, /exactly one of features or keypoints/],
    [{ stream_id: 's1', features: good, keypoints: null }, /exactly one of features or keypoints/],
    [{ stream_id: 's1', features: good.slice(1) }, /features: expected 169 numbers, got 168/],
    [{ stream_id: 's1', features: ['a', ...good.slice(1)] }, /features\.0: Input should be a valid number/],
    [`{"stream_id": "s1", "features": [1e999${',0'.repeat(FEATURE_DIM - 1)}]}`, /features\.0: expected a finite number/],
    [{ stream_id: 's2', keypoints: [[0, 0, 0, 1]] }, /keypoints: expected 33 keypoints, got 1/],
    [{ stream_id: 's2', keypoints: Array(33).fill([0, 0, 1]) }, /keypoints\.0: expected \[x, y, z, visibility\]/],
    [{ type: 'open', stream_id: 's3', stride: 0 }, /stride: Input should be greater than or equal to 1/],
    [{ type: 'open', stream_id: 's4', window: 30 }, /window: no model takes 30 frames: this server serves behavior_lstm \(window 16\), behavior_lstm_w60 \(window 60\)/],
    [{ type: 'open', stream_id: 's5', model: 'nope' }, /model: unknown model "nope"; this server serves behavior_lstm, behavior_lstm_w60/],
    [{ type: 'open', stream_id: 's6', model: 'behavior_lstm', window: 60 }, /window: the model takes 16 frames, got 60/],
    [{ type: 'close', stream_id: 'nobody' }, /stream nobody is not open/],
    [new Uint8Array([1, 1, 0]).buffer, /shorter than the 16-byte header/],
    [binary((v) => v.setUint8(0, 9)), /version 9/],
    [binary((v) => v.setUint8(1, 7)), /kind 7/],
    [binary((v) => v.setUint16(2, 1000, true)), /stream id length 1000 does not fit/],
    [binary(() => {}, 100), /expected 169 float32 features, got 100/],
    [binary((v, b) => b.set([0xff, 0xfe], 16)), /stream id is not UTF-8/],
  ];
  for (const [message, pattern] of cases) {
    const before = client.of('error').length;
    client.send(message);
    await client.until(() => client.of('error').length > before, `an error for ${String(pattern)}`);
    t.match(client.of('error').at(-1).detail, pattern, String(pattern));
    t.equal(client.of('error').at(-1).code, /is not open/.test(String(pattern)) ? 'unknown_stream' : 'bad_message');
  }
  client.send({ type: 'open', stream_id: 'k' });
  client.send({ stream_id: 'k', features: good });
  client.send({ stream_id: 'k', keypoints: null });
  await client.until(() => client.of('error', 'k').length === 1, 'mixed input error');
  t.match(client.of('error', 'k')[0].detail, /stream k carries features; this frame has keypoints/);
  client.send({ type: 'open', stream_id: 'k' });
  await client.until(() => client.of('error', 'k').length === 2, 'duplicate open error');
  t.match(client.of('error', 'k')[1].detail, /already open/);

  for (let i = 0; i < WINDOW; i++) client.send({ stream_id: 's1', index: i, features: good });
  await client.until(() => client.of('analysis', 's1').length === 1, 'an analysis after all those errors');
  t.equal(client.closeCode, null, 'the socket stayed open');
  const badMessages = client.of('error').filter((e) => e.code === 'bad_message').length;
  t.ok(badMessages >= cases.length - 1, `every bad message answered (${badMessages})`);
  t.equal(await metric(http, 'stream_message_errors_total', { reason: 'bad_message' }), badMessages, 'and each one counted');
});

t.test('limits: streams per socket and in total, message size, idle sockets', async (t) => {
  const { url, client: http } = await startTestServer(t, {
    BACKEND_STREAM_MAX_PER_SOCKET: '2',
    BACKEND_STREAM_MAX_TOTAL: '3',
    BACKEND_WS_MAX_MESSAGE_BYTES: '8192',
    BACKEND_WS_IDLE_TIMEOUT_SEC: '8',
  });
  const openStreams = () => metric(http, 'stream_open');

  const a = await StreamClient.connect(url);
  const b = await StreamClient.connect(url);
  for (const id of ['a1', 'a2', 'a3']) a.send({ type: 'open', stream_id: id });
  await a.until(() => a.of('opened').length === 2 && a.of('error').length === 1, 'two opened, one refused');
  t.match(a.of('error')[0], { stream_id: 'a3', code: 'limit', detail: 'at most 2 streams per socket' });
  b.send({ type: 'open', stream_id: 'b1' });
  b.send({ type: 'open', stream_id: 'b2' });
  await b.until(() => b.of('opened').length + b.of('error').length === 2, 'b answered');
  t.match(b.of('error')[0], { stream_id: 'b2', code: 'limit', detail: 'the server has its maximum of 3 open streams' });
  t.equal(await openStreams(), 3);

  a.close();
  await waitFor(async () => (await openStreams()) === 1, 'a closed socket to free its streams');
  t.equal(b.of('opened').length, 1, 'b still has its stream');
  b.send({ type: 'open', stream_id: 'b2' });
  await b.until(() => b.of('opened').length === 2, 'b2 opens once there is room');

  const big = await StreamClient.connect(url);
  big.send({ stream_id: 'x', features: Array(2000).fill(0.123456789) });
  await big.until(() => big.closeCode !== null, 'the oversized message closes the socket');
  t.not(big.closeCode, 1000);

  b.close();
  await waitFor(async () => (await openStreams()) === 0, 'b\'s streams freed');

  // A socket that opens a stream and then sends nothing is closed by the server, freeing the stream.
  const idle = await StreamClient.connect(url);
  idle.send({ type: 'open', stream_id: 'quiet' });
  await idle.until(() => idle.of('opened').length === 1, 'the idle socket\'s stream opened');
  t.equal(await openStreams(), 1);
  await idle.until(() => idle.closeCode !== null, 'the idle socket to be closed');
  t.not(idle.closeCode, 1000, `closed by the server, not normally (${idle.closeCode})`);
  t.same(idle.messages.map((m) => m.type), ['opened'], 'without any error first');
  await waitFor(async () => (await openStreams()) === 0, 'the idle socket\'s stream freed');
});

// Streams without events first: the log holds only what the second test's stream wrote.
t.test('one server with BACKEND_STREAM_START_AFTER=1', async (t) => {
  const { url, config, client: http } = await startTestServer(t, { BACKEND_STREAM_START_AFTER: '1' });

  t.test('stream results equal /behavior/analyze on the same window', async (t) => {
    const scene = generateScene({ seed: 11, steps: [{ activity: 'walk', seconds: 2 }], frames: 24 });
    const features = computeFeatures(scene.keypoints, 24);
    const row = (i: number) => Array.from(features.subarray(i * FEATURE_DIM, (i + 1) * FEATURE_DIM));
    const client = await StreamClient.connect(url);
    t.teardown(() => client.close());

    for (let i = 0; i < 20; i++) client.send({ stream_id: 'json', index: i, features: row(i) });
    for (let i = 0; i < 20; i++) client.send(encodeBinaryFrame('binary', 'features', features.subarray(i * FEATURE_DIM, (i + 1) * FEATURE_DIM), i, null));
    const keypointWindow = scene.keypoints.subarray(4 * 132, 20 * 132);
    for (let i = 0; i < 20; i++) client.send({ stream_id: 'keypoints', index: i, keypoints: keypointsJson(scene.keypoints.subarray(i * 132, (i + 1) * 132)) });
    await client.until(() => ['json', 'binary', 'keypoints'].every((id) => client.of('analysis', id).some((a) => a.index === 19)), 'the analyses of frame 19');

    const expected = (await http.post('/behavior/analyze', analyzeRequest(features.subarray(4 * FEATURE_DIM, 20 * FEATURE_DIM), WINDOW, FEATURE_DIM))).json;
    const fromKeypoints = computeFeatures(keypointWindow, WINDOW);
    const expectedKeypoints = (await http.post('/behavior/analyze', analyzeRequest(fromKeypoints, WINDOW, FEATURE_DIM))).json;
    const check = (id: string, want: any) => {
      const got = client.of('analysis', id).find((a) => a.index === 19);
      t.equal(got.frames, WINDOW);
      t.same(got.events, want.events);
      t.equal(got.is_anomaly, want.is_anomaly, `${id}: same verdict`);
      got.scores.forEach((s: number, k: number) => t.ok(Math.abs(s - want.scores[k]) < 1e-6, `${id}: score ${k} ${s} vs ${want.scores[k]}`));
    };
    check('json', expected);
    check('binary', expected);
    check('keypoints', expectedKeypoints);
  });

  t.test('closing a socket ENDs its active events', async (t) => {
    const client = await StreamClient.connect(url);
    client.send({ type: 'open', stream_id: 'floor', events: true, stride: 4 });
    const sim = new PoseSimulator({ seed: 5, dropRate: 0 });
    sim.play([{ activity: 'fall', seconds: 1 }, { activity: 'lying_still', seconds: 30 }]);
    // Paced by the answers, so that it stops soon after the first event.
    for (let i = 0; client.of('event').length === 0 && i < 30 * 30; i++) {
      client.send({ stream_id: 'floor', index: i, keypoints: keypointsJson(sim.next().keypoints) });
      if (due(i)) await client.until(() => client.of('analysis').some((a) => a.index === i), `analysis of frame ${i}`);
    }
    await client.until(() => client.of('event').some((e) => e.payload.type === 'START'), 'a START');
    client.close();
    const logged = (type: string) => logLines(config.events.logPath!).map((l) => JSON.parse(l)).filter((r) => r.event_type === type);
    await waitFor(() => logged('END').length > 0 && logged('END').length === logged('START').length, 'an END for every START');
    const ends = logged('END');
    t.same(ends.map((r) => r.data.event).sort(), logged('START').map((r) => r.data.event).sort(), 'every started event ENDed');
    t.equal(ends.at(-1).data.state, 'stream_closed', 'the close ENDed what was still active');
    t.ok(ends.every((r) => r.session_id === 'floor'), 'with the stream\'s id as its session');
  });
});
