/** The memo's text and Kakao's 200-character cut, without sending anything (the sent memo: kakao-http.test.ts). */
import t from 'tap';
import { pythonFixed } from '../src/shared/python-format.js';
import { cutMemo, memoText } from '../workers/writer/memo.js';

const at = new Date(2026, 10, 29, 17, 35, 47).getTime();

t.test('the seed\'s text: durations as HH:MM:SS and Python\'s rounding, local time last', async (t) => {
  t.equal(memoText({ session_id: null, event: 'fall', duration_sec: 3725.25, ts: 0.125, frame_idx: 0, received_at_ms: at }),
    '[이상행동탐지] 최종 이벤트 알림\n- 최종 이벤트 : fall\n- 지속시간 : 01:02:05 (3725.2s)\n- 영상 시간 : 0.12s\n- 프레임 : 0\n- 수신시각 : 2026-11-29 / 17:35:47');
  t.equal(pythonFixed(3725.25, 1), '3725.2', 'ties round to even, as Python does');
});

t.test('the cut: whole trailing lines first; inside the text only when the event line alone is too long', async (t) => {
  const long = memoText({ session_id: null, event: 'fall-'.repeat(30), duration_sec: 5, ts: 1, frame_idx: 1, received_at_ms: at });
  t.equal(cutMemo(long), `[이상행동탐지] 최종 이벤트 알림\n- 최종 이벤트 : ${'fall-'.repeat(30)}`);
  const huge = memoText({ session_id: null, event: '넘어짐'.repeat(100), duration_sec: null, ts: null, frame_idx: null, received_at_ms: at });
  const cut = cutMemo(huge);
  t.equal(cut.length, 200);
  t.ok(huge.startsWith(cut));
  t.equal(cutMemo(`${'a'.repeat(199)}😀`).length, 199, 'never half a surrogate pair');
});
