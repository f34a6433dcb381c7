/** DOM building blocks of the watch page: no framework, no inline style or script (the CSP forbids them). */
import type uPlot from 'uplot';
import type { Camera, Delivery, EventEntry, Model, Point, ServerPanel } from './api.js';
import { clock, dateTime, eventLabel, timeOfDay, type Lang, type Strings } from './i18n.js';

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

/** uPlot is loaded as a classic script (its IIFE build) and sets this global. */
const UPlot = (globalThis as unknown as { uPlot: typeof uPlot }).uPlot;

export interface Ctx {
  lang: Lang;
  t: Strings;
  model: Model;
  /** Server time minus this browser's. */
  skewMs: number;
  silentAfterMs: number;
}

const serverNow = (ctx: Ctx) => Date.now() + ctx.skewMs;

/** A small chart of the top score, 0–1, over time. */
export function chart(container: HTMLElement, points: Point[], height = 64): uPlot {
  const width = Math.max(160, container.clientWidth || 260);
  return new UPlot({
    width,
    height,
    legend: { show: false },
    cursor: { show: false },
    select: { show: false, left: 0, top: 0, width: 0, height: 0 },
    scales: { x: { time: true }, y: { range: [0, 1] } },
    axes: [{ size: 22, font: '10px system-ui', ticks: { show: false } }, { size: 26, font: '10px system-ui', splits: [0, 0.5, 1], ticks: { show: false } }],
    series: [{}, { stroke: '#d9480f', width: 1.5, fill: 'rgba(217,72,15,0.12)', points: { show: false } }],
  }, chartData(points), container);
}

export function chartData(points: Point[]): uPlot.AlignedData {
  return [points.map((p) => p[0] / 1000), points.map((p) => p[1])];
}

export function topScore(camera: Camera): [string, number] | null {
  let best: [string, number] | null = null;
  for (const [event, score] of Object.entries(camera.scores)) if (!best || score > best[1]) best = [event, score];
  return best;
}

export function cameraState(ctx: Ctx, camera: Camera): 'normal' | 'active' | 'silent' {
  if (serverNow(ctx) - camera.seen_ms > ctx.silentAfterMs) return 'silent';
  return camera.active.length ? 'active' : 'normal';
}

/** The card's text parts (the chart is kept across updates). */
export function cardBody(ctx: Ctx, camera: Camera): HTMLElement {
  const { t, lang } = ctx;
  const state = cameraState(ctx, camera);
  const now = serverNow(ctx);
  const status = state === 'silent'
    ? h('p', { class: 'state silent' }, `${t.silent} · ${clock((now - camera.seen_ms) / 1000)} ${t.ago}`)
    : state === 'active'
      ? h('p', { class: 'state active' }, ...camera.active.map((a) => h('span', { class: 'active-event' }, `${eventLabel(lang, ctx.model.labels, a.event)} · ${clock((now - a.since_ms) / 1000)}`)))
      : h('p', { class: 'state normal' }, t.normal);
  const scores = h('ul', { class: 'scores' }, ...Object.entries(camera.scores).map(([event, score]) => {
    const over = score >= (camera.thresholds[event] ?? ctx.model.thresholds[ctx.model.events.indexOf(event)] ?? 1);
    return h('li', over ? { class: 'over' } : {}, h('span', {}, eventLabel(lang, ctx.model.labels, event)), h('b', {}, score.toFixed(2)));
  }));
  return h('div', { class: 'card-body' }, status, scores);
}

export function deliveryText(t: Strings, delivery: Delivery): string {
  switch (delivery.state) {
    case 'delivered': return t.delivered;
    case 'pending': return t.pending;
    case 'undelivered': return `${t.notDelivered} (${delivery.reason})`;
    case 'unknown': return t.deliveryUnknown;
    default: return t.noMemo;
  }
}

/** One line of the feed. */
export function eventRow(ctx: Ctx, entry: EventEntry): HTMLElement {
  const { t, lang } = ctx;
  const r = entry.record;
  const data = r.data ?? {};
  const event = typeof data.event === 'string' ? data.event : typeof data.top_event === 'string' ? data.top_event : null;
  const prob = typeof data.prob === 'number' ? data.prob : typeof data.top_prob === 'number' ? data.top_prob : null;
  const duration = typeof data.duration_sec === 'number' ? data.duration_sec : null;
  const link = h('a', { href: `/watch/events/${encodeURIComponent(r.event_id)}` }, eventLabel(lang, ctx.model.labels, event));
  return h('li', { class: `event type-${r.event_type.toLowerCase()}`, 'data-id': r.event_id },
    h('time', {}, when(lang, entry.received_ms)),
    h('span', { class: 'type' }, r.event_type),
    h('span', { class: 'camera' }, r.session_id ?? '-'),
    link,
    prob !== null ? h('span', { class: 'prob' }, prob.toFixed(2)) : null,
    duration !== null ? h('span', { class: 'duration' }, clock(duration)) : null,
    r.event_type === 'END' ? h('span', { class: `delivery ${entry.delivery.state}` }, deliveryText(t, entry.delivery)) : null);
}

/** The time of day for today's events; older ones (paged back from the store) with their date. */
function when(lang: Lang, ms: number | null): string {
  if (ms === null) return '-';
  return new Date(ms).toDateString() === new Date().toDateString() ? timeOfDay(lang, ms) : dateTime(lang, ms);
}

export function serverPanel(ctx: Ctx, s: ServerPanel): HTMLElement {
  const { t, lang } = ctx;
  const ready = s.status === 'ready';
  const row = (name: string, value: Child) => h('div', { class: 'kv' }, h('dt', {}, name), h('dd', {}, value));
  const undelivered = Object.entries(s.kakao.undelivered).filter(([, n]) => n > 0);
  const k = s.kakao;
  return h('dl', { class: 'server' },
    row(t.server, h('span', { class: ready ? 'ok' : 'bad' }, ready ? t.ready : `${t.notReady}: ${s.reasons.join('; ')}`)),
    row(t.device, s.device ?? '-'),
    row(t.workers, s.workers ? `${s.workers.loaded}/${s.workers.expected}` : '-'),
    row(t.queue, String(s.queue_depth)),
    row(t.perSecond, String(s.analyses_per_second)),
    row(t.streams, String(s.streams_open)),
    row(t.kakao, h('span', { class: k.token_valid ? 'ok' : 'bad' }, k.token_valid ? t.tokenValid : `${t.tokenInvalid}: ${k.error ?? '-'}`)),
    k.expires_at ? row(t.expires, dateTime(lang, Date.parse(k.expires_at))) : null,
    row(t.undelivered, undelivered.length ? undelivered.map(([reason, n]) => `${reason} ${n}`).join(', ') : t.none));
}
