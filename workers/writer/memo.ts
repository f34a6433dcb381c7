/**
 * The Kakao memo for an END event: the seed's text, cut to Kakao's 200-character limit, inside
 * the text template Kakao expects.
 */
import type { AlertRequest } from '../../src/contracts/writer.js';
import { pythonFixed } from '../../src/shared/python-format.js';

/** Kakao rejects a text template whose text is longer (-2). */
const MEMO_MAX_CHARS = 200;

const pad = (n: number) => String(n).padStart(2, '0');

/** The seed's memo text; optional lines appear only when their value is present; local time on the last line. */
export function memoText(alert: AlertRequest): string {
  const lines = ['[이상행동탐지] 최종 이벤트 알림', `- 최종 이벤트 : ${alert.event || '-'}`];
  if (alert.duration_sec !== null) {
    lines.push(`- 지속시간 : ${hhmmss(alert.duration_sec)} (${pythonFixed(alert.duration_sec, 1)}s)`);
  }
  if (alert.ts !== null) lines.push(`- 영상 시간 : ${pythonFixed(alert.ts, 2)}s`);
  if (alert.frame_idx !== null) lines.push(`- 프레임 : ${alert.frame_idx}`);
  const at = new Date(alert.received_at_ms);
  lines.push(`- 수신시각 : ${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} / ${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`);
  return lines.join('\n');
}

/**
 * Cuts text to `max` UTF-16 units (no fewer than Kakao counts) by dropping whole trailing lines,
 * as long as the event line survives; otherwise (a huge event name) by cutting the text itself.
 */
export function cutMemo(text: string, max = MEMO_MAX_CHARS): string {
  if (text.length <= max) return text;
  const lines = text.split('\n');
  while (lines.length > 2) {
    lines.pop();
    const kept = lines.join('\n');
    if (kept.length <= max) return kept;
  }
  let cut = text.slice(0, max);
  // Never leave half of a surrogate pair at the end.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return cut;
}

/** The `template_object` form field: a text template with the seed's key order; link `{}` when no URL is set. */
export function templateObject(text: string, linkUrl: string | null, buttonTitle: string): string {
  const link = linkUrl ? { web_url: linkUrl, mobile_web_url: linkUrl } : {};
  return JSON.stringify({ object_type: 'text', text, link, button_title: buttonTitle });
}

/** The seed's HH:MM:SS of whole seconds; '-' for a negative duration. */
function hhmmss(seconds: number): string {
  if (seconds < 0) return '-';
  const total = Math.floor(seconds);
  return `${pad(Math.floor(total / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
}
