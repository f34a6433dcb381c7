/**
 * The Kakao memo for an END event: the seed's lines plus the camera, times of day in the watch's
 * zone (named on the memo), the video time readable with its epoch beside it, the event by its
 * display label; cut to Kakao's 200-character limit, inside the text template Kakao expects.
 */
import type { AlertRequest, KakaoConfig } from '../../src/contracts/writer.js';
import { pythonFixed } from '../../src/common/python-format.js';

/** Kakao rejects a text template whose text is longer (-2). */
const MEMO_MAX_CHARS = 200;
/** The title, the event and the camera: what a cut keeps whole as long as it can. */
const ESSENTIAL_LINES = 3;
/** A `ts` from this on (2001-09-09) is a Unix time; smaller ones are offsets into a video. */
const EPOCH_FROM = 1e9;
export const DEFAULT_TIME_ZONE = 'Asia/Seoul';

const pad = (n: number) => String(n).padStart(2, '0');

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Date and time of day of `ms` in `timeZone`: [YYYY-MM-DD, HH:MM:SS]. */
export function zonedParts(ms: number, timeZone: string): [string, string] {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    });
    formatters.set(timeZone, format);
  }
  const part: Record<string, string> = {};
  for (const p of format.formatToParts(new Date(ms))) part[p.type] = p.value;
  const year = (part.year ?? '').padStart(4, '0');
  return [`${year}-${part.month ?? '??'}-${part.day ?? '??'}`, `${part.hour ?? '??'}:${part.minute ?? '??'}:${part.second ?? '??'}`];
}

/** The event as the person on watch reads it: its label with the model's name beside it, or the name. */
function eventLine(alert: AlertRequest): string {
  if (!alert.event) return '-';
  return alert.label && alert.label !== alert.event ? `${alert.label} (${alert.event})` : alert.event;
}

/** A Unix time as date and time in the zone, an offset into a video as HH:MM:SS; the number itself beside. */
function videoTime(ts: number, timeZone: string): string {
  const raw = `${pythonFixed(ts, 2)}s`;
  if (ts >= EPOCH_FROM && ts < 253_402_300_800) {
    const [date, time] = zonedParts(ts * 1000, timeZone);
    return `${date} ${time} (${raw})`;
  }
  return ts >= 0 ? `${hhmmss(ts)} (${raw})` : raw;
}

/**
 * The memo text; optional lines appear only when their value is present. Order: title, event,
 * camera, then the seed's lines (duration, video time, frame, time received).
 */
export function memoText(alert: AlertRequest, timeZone: string = DEFAULT_TIME_ZONE): string {
  const lines = ['[이상행동탐지] 최종 이벤트 알림', `- 최종 이벤트 : ${eventLine(alert)}`];
  if (alert.session_id !== null) lines.push(`- 카메라 : ${alert.session_id}`);
  if (alert.duration_sec !== null) {
    lines.push(`- 지속시간 : ${hhmmss(alert.duration_sec)} (${pythonFixed(alert.duration_sec, 1)}s)`);
  }
  if (alert.ts !== null) lines.push(`- 영상 시간 : ${videoTime(alert.ts, timeZone)}`);
  if (alert.frame_idx !== null) lines.push(`- 프레임 : ${alert.frame_idx}`);
  const [date, time] = zonedParts(alert.received_at_ms, timeZone);
  lines.push(`- 수신시각 : ${date} / ${time} ${timeZone}`);
  return lines.join('\n');
}

const graphemes = new Intl.Segmenter('ko', { granularity: 'grapheme' });

/**
 * Cuts text to `max` UTF-16 units (no fewer than Kakao counts) by dropping whole trailing lines,
 * as long as the title, event and camera lines survive; otherwise (a huge event or camera name) by
 * cutting the text itself between two characters as a reader sees them (never inside a surrogate
 * pair, a Hangul syllable block or an emoji sequence).
 */
export function cutMemo(text: string, max = MEMO_MAX_CHARS): string {
  if (text.length <= max) return text;
  const lines = text.split('\n');
  while (lines.length > ESSENTIAL_LINES) {
    lines.pop();
    const kept = lines.join('\n');
    if (kept.length <= max) return kept;
  }
  let cut = '';
  for (const { segment } of graphemes.segment(text)) {
    if (cut.length + segment.length > max) break;
    cut += segment;
  }
  return cut;
}

/** The button's address: ALERT_LINK_URL when set, else the event's page when BACKEND_PUBLIC_URL is, else none. */
export function memoLink(alert: AlertRequest, config: Pick<KakaoConfig, 'linkUrl' | 'eventPageBase'>): string | null {
  if (config.linkUrl) return config.linkUrl;
  return config.eventPageBase && alert.event_id ? `${config.eventPageBase}${encodeURIComponent(alert.event_id)}` : null;
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
