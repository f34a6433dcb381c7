/** Small parts of the stream side: the frame ring's order and the JSON keypoint encoder. */
import t from 'tap';
import { FrameRing } from '../src/common/frame-ring.js';
import { decodeText } from '../src/streams/stream-messages.js';
import { keypointsJson } from '../src/common/stream-frame-encoding.js';

t.test('the ring keeps the last frames, oldest first', async (t) => {
  const ring = new FrameRing(3, 2);
  for (let i = 0; i < 5; i++) ring.push(Float32Array.of(i, i * 10), i === 3 ? null : i, 100 + i);
  t.same(Array.from(ring.window()), [2, 20, 3, 30, 4, 40]);
  t.same(ring.indexes(), [2, null, 4]);
  t.same(ring.newest(), { index: 4, ts: 104 });
});

t.test('keypoints as JSON: null only for a frame with nobody detected', async (t) => {
  t.equal(keypointsJson(new Float32Array(132).fill(Number.NaN)), null);
  const oneMissing = new Float32Array(132).fill(0.5);
  oneMissing[0] = Number.NaN;
  const rows = keypointsJson(oneMissing)!;
  t.equal(rows.length, 33);
  t.same(rows[0], [null, 0.5, 0.5, 0.5], 'a single missing value stays a single null');
  // What the encoder writes, the server reads back as the same values.
  const decoded = decodeText(JSON.stringify({ stream_id: 's', keypoints: rows }), 169);
  t.ok(decoded.kind === 'frame' && Number.isNaN(decoded.values[0]!) && decoded.values[1] === 0.5);
});
