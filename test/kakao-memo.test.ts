/** The memo's text, its link and Kakao's 200-character cut, without sending anything (the sent memo: kakao-http.test.ts). */
import t from 'tap';
import type { AlertRequest } from '../src/contracts/writer.js';
import { pythonFixed } from '../src/common/python-format.js';
import { cutMemo, memoLink, memoText } from '../workers/writer/memo.js';

/** 2026-11-29 17:35:47 in Seoul (08:35:47 UTC). */
const at = Date.UTC(2026, 10, 29, 8, 35, 47);
const alert = (fields: Partial<AlertRequest> = {}): AlertRequest => ({
  event_id: '7c301b6abd8a47ac8447770590a3a3a7', session_id: null, event: 'fall', label: null,
  duration_sec: 3725.25, ts: 0.125, frame_idx: 0, received_at_ms: at, ...fields,
});

t.test('the seed\'s lines in their order, times of day in the watch\'s zone, the zone named', async (t) => {
  t.equal(memoText(alert()),
    '[이상행동탐지] 최종 이벤트 알림\n- 최종 이벤트 : fall\n- 지속시간 : 01:02:05 (3725.2s)\n- 영상 시간 : 00:00:00 (0.12s)\n- 프레임 : 0\n- 수신시각 : 2026-11-29 / 17:35:47 Asia/Seoul');
  t.equal(pythonFixed(3725.25, 1), '3725.2', 'ties round to even, as Python does');
  t.match(memoText(alert(), 'UTC'), /- 수신시각 : 2026-11-29 \/ 08:35:47 UTC$/, 'another zone: its own time, its own name');
  t.match(memoText(alert(), 'America/New_York'), /- 수신시각 : 2026-11-29 \/ 03:35:47 America\/New_York$/);
});

t.test('the camera after the event, the event by its label with the model\'s name beside it', async (t) => {
  const text = memoText(alert({ session_id: 'cam-hall', event: 'lying_still', label: '쓰러진 채 움직임 없음', duration_sec: 5.45, ts: 1764405347.2, frame_idx: 1234 }));
  t.equal(text, [
    '[이상행동탐지] 최종 이벤트 알림',
    '- 최종 이벤트 : 쓰러진 채 움직임 없음 (lying_still)',
    '- 카메라 : cam-hall',
    '- 지속시간 : 00:00:05 (5.5s)',
    '- 영상 시간 : 2025-11-29 17:35:47 (1764405347.20s)',
    '- 프레임 : 1234',
    '- 수신시각 : 2026-11-29 / 17:35:47 Asia/Seoul',
  ].join('\n'));
  t.match(memoText(alert({ event: null })), /- 최종 이벤트 : -\n/, 'no event: "-"');
  t.match(memoText(alert({ ts: 12.5 })), /- 영상 시간 : 00:00:12 \(12.50s\)/, 'an offset into a video reads as one');
});

t.test('the button: ALERT_LINK_URL, else the event\'s page under BACKEND_PUBLIC_URL, else none', async (t) => {
  const page = 'https://watch.example/watch/events/';
  t.equal(memoLink(alert(), { linkUrl: null, eventPageBase: page }), `${page}7c301b6abd8a47ac8447770590a3a3a7`);
  t.equal(memoLink(alert(), { linkUrl: 'https://cam.example/live', eventPageBase: page }), 'https://cam.example/live', 'ALERT_LINK_URL keeps its meaning');
  t.equal(memoLink(alert(), { linkUrl: null, eventPageBase: null }), null);
});

t.test('the cut: whole trailing lines first; inside the text only when title, event and camera alone are too long', async (t) => {
  const long = memoText(alert({ event: 'fall-'.repeat(30), session_id: 'cam-1', duration_sec: 5, ts: 1, frame_idx: 1 }));
  t.equal(cutMemo(long), `[이상행동탐지] 최종 이벤트 알림\n- 최종 이벤트 : ${'fall-'.repeat(30)}\n- 카메라 : cam-1`);
  const huge = memoText(alert({ event: '넘어짐'.repeat(100), duration_sec: null, ts: null, frame_idx: null }));
  const cut = cutMemo(huge);
  t.equal(cut.length, 200);
  t.ok(huge.startsWith(cut));
  t.equal(cutMemo(`${'a'.repeat(199)}😀`).length, 199, 'never half a surrogate pair');
  t.equal(cutMemo(`${'a'.repeat(197)}👩‍👩‍👧`), 'a'.repeat(197), 'never half an emoji sequence');
  const camera = memoText(alert({ session_id: '카'.repeat(300) }));
  t.ok(cutMemo(camera).length <= 200 && camera.startsWith(cutMemo(camera)), 'a huge camera name is cut too');
});
