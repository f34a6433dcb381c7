/**
 * The watch page: cameras, the live feed of events, the server panel, one event's page, and the
 * login. State comes from /watch/api/state, then the feed (/watch/feed, Server-Sent Events) keeps
 * it current; EventSource reconnects by itself.
 */
import type uPlot from 'uplot';
import { getJson, login, Unauthorized, type Camera, type EventDetail, type EventEntry, type EventsPage, type ServerPanel, type State } from './api.js';
import { chooseLang, clock, dateTime, eventLabel, saveLang, strings, type Lang } from './i18n.js';
import { cardBody, chart, chartData, eventRow, h, serverPanel, deliveryText, type Ctx } from './views.js';

/** Rows the live list keeps; once older pages are loaded nothing is cut, so no page leaves a gap. */
const MAX_ROWS = 300;
/** Requests one click makes while pages come back with nothing new (the store's scan bound, repeats). */
const OLDER_TRIES = 10;
/** sessionStorage key of the last stored event opened from the list: its page shows it when the server no longer keeps it. */
const OPENED_KEY = 'watch.opened';

let lang: Lang = chooseLang();
const ctx: Ctx = { lang, t: strings(lang), model: { events: [], thresholds: [], labels: {} }, skewMs: 0, silentAfterMs: 30_000 };
const cameras = new Map<string, { camera: Camera; card: HTMLElement; body: HTMLElement; chart: uPlot | null }>();
const filters = { camera: '', event: '', types: new Set(['START', 'END']) };
/** The next older page's cursor; null at the store's start. */
let olderCursor: string | null = null;
/** Older pages were loaded: the list is history, not a window on the live feed. */
let paged = false;
/** Bumped by each reload, so a page that arrives after the filters changed is dropped. */
let generation = 0;
const shown = new Set<string>();
/** Shown events only the store still has, by id: kept for their own page (rememberOpened). */
const fromStore = new Map<string, EventEntry>();
let feed: EventSource | null = null;

const root = document.body;

function setLang(next: Lang): void {
  lang = next;
  saveLang(next);
  location.reload();
}

function header(): HTMLElement {
  const live = h('span', { class: 'live', id: 'live' }, ctx.t.live);
  const switcher = h('button', { type: 'button', class: 'lang' }, ctx.t.lang);
  switcher.addEventListener('click', () => setLang(lang === 'ko' ? 'en' : 'ko'));
  return h('header', {}, h('h1', {}, h('a', { href: '/watch' }, ctx.t.title)), live, switcher);
}

function showLogin(): void {
  document.documentElement.lang = lang;
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', required: '', 'aria-label': ctx.t.token });
  const message = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'login' }, h('h2', {}, ctx.t.loginTitle), h('p', {}, ctx.t.loginHint), input, h('button', { type: 'submit' }, ctx.t.loginButton), message);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void login(input.value).then((ok) => (ok ? location.reload() : (message.textContent = ctx.t.wrongToken)));
  });
  root.replaceChildren(header(), h('main', {}, form));
}

// ---- cameras -------------------------------------------------------------------------------

function upsertCamera(grid: HTMLElement, camera: Camera, full: boolean): void {
  let slot = cameras.get(camera.id);
  if (!slot) {
    const body = cardBody(ctx, camera);
    const plot = h('div', { class: 'plot' });
    const card = h('article', { class: 'card', 'data-camera': camera.id }, h('h3', {}, camera.id), body, plot);
    grid.querySelector('.empty')?.remove();
    grid.append(card);
    slot = { camera, card, body, chart: null };
    cameras.set(camera.id, slot);
    slot.chart = chart(plot, camera.points);
  } else {
    // An update carries only the newest points: merge them into what the card has.
    const merged = full ? camera.points : mergePoints(slot.camera.points, camera.points);
    slot.camera = { ...camera, points: merged };
    slot.chart?.setData(chartData(merged));
  }
  renderCard(slot.camera.id);
}

function mergePoints(old: Camera['points'], fresh: Camera['points']): Camera['points'] {
  const first = fresh[0];
  const kept = first ? old.filter((p) => p[0] < first[0]) : old;
  const merged = [...kept, ...fresh];
  return merged.slice(-600);
}

function renderCard(id: string): void {
  const slot = cameras.get(id);
  if (!slot) return;
  const body = cardBody(ctx, slot.camera);
  slot.body.replaceWith(body);
  slot.body = body;
  const state = body.querySelector('.state')?.classList;
  slot.card.className = `card ${state?.contains('active') ? 'active' : state?.contains('silent') ? 'silent' : 'normal'}`;
}

// ---- events --------------------------------------------------------------------------------

const matches = (entry: EventEntry) => {
  const r = entry.record;
  const data = r.data ?? {};
  if (!filters.types.has(r.event_type)) return false;
  if (filters.camera && (r.session_id ?? '-') !== filters.camera) return false;
  if (filters.event && data.event !== filters.event && data.top_event !== filters.event) return false;
  return true;
};

function addRow(list: HTMLElement, entry: EventEntry, atTop: boolean): void {
  const id = entry.record.event_id;
  // A store's page may repeat rows already shown (the board's newest, the live feed's).
  if (!matches(entry) || shown.has(id)) return;
  list.querySelector('.empty')?.remove();
  const row = eventRow(ctx, entry);
  if (atTop) list.prepend(row);
  else list.append(row);
  shown.add(id);
  if (entry.seq === null) fromStore.set(id, entry);
  while (!paged && list.children.length > MAX_ROWS) {
    const last = list.lastElementChild as HTMLElement;
    shown.delete(last.dataset.id ?? '');
    fromStore.delete(last.dataset.id ?? '');
    last.remove();
  }
}

function eventQuery(before: string | null): string {
  const q = new URLSearchParams({ limit: '50', types: [...filters.types].join(',') });
  if (before !== null) q.set('before', before);
  if (filters.camera) q.set('camera', filters.camera);
  if (filters.event) q.set('event', filters.event);
  return `/watch/api/events?${q}`;
}

function showEvents(list: HTMLElement, page: { events: EventEntry[]; next: string | null }): void {
  list.replaceChildren();
  shown.clear();
  fromStore.clear();
  paged = false;
  for (const entry of page.events) addRow(list, entry, false);
  if (!list.children.length) list.append(h('li', { class: 'empty' }, ctx.t.noEvents));
  setOlder(page.next);
}

async function reloadEvents(list: HTMLElement): Promise<void> {
  const mine = ++generation;
  const page = await getJson<EventsPage>(eventQuery(null));
  if (mine === generation) showEvents(list, page);
}

function setOlder(next: string | null, status = ''): void {
  olderCursor = next;
  const button = document.getElementById('older') as HTMLButtonElement | null;
  if (button) {
    button.hidden = next === null;
    button.disabled = false;
  }
  const note = document.getElementById('older-status');
  if (note) note.textContent = next === null && paged ? ctx.t.storeStart : status;
}

/** The next older page from the store; pages that add nothing are followed on, a few per click. */
async function loadOlder(list: HTMLElement): Promise<void> {
  const mine = generation;
  const button = document.getElementById('older') as HTMLButtonElement;
  button.disabled = true;
  document.getElementById('older-status')!.textContent = ctx.t.loading;
  try {
    for (let tries = 0; olderCursor !== null && tries < OLDER_TRIES; tries++) {
      const page = await getJson<EventsPage>(eventQuery(olderCursor));
      if (mine !== generation) return;
      paged = true;
      const before = shown.size;
      for (const entry of page.events) addRow(list, entry, false);
      olderCursor = page.next;
      if (shown.size > before) break;
    }
    setOlder(olderCursor);
  } catch (err) {
    if (err instanceof Unauthorized) return showLogin();
    // The pages already added stay; the next click goes on from the last one.
    if (mine === generation) setOlder(olderCursor, ctx.t.olderFailed);
  }
}

/**
 * An event read from the store is kept (this tab's sessionStorage) when its link is followed: the
 * server answers only for the events it keeps in memory, and finding one in the store means reading
 * all of it.
 */
function rememberOpened(list: HTMLElement): void {
  list.addEventListener('click', (e) => {
    const id = (e.target as Element).closest('li[data-id]')?.getAttribute('data-id');
    const entry = id ? fromStore.get(id) : undefined;
    if (entry) sessionStorage.setItem(OPENED_KEY, JSON.stringify(entry));
  });
}

function filterBar(list: HTMLElement, cameraIds: string[]): HTMLElement {
  const cameraSelect = h('select', { name: 'camera', 'aria-label': ctx.t.camera }, h('option', { value: '' }, ctx.t.allCameras), ...cameraIds.map((id) => h('option', { value: id }, id)));
  const eventSelect = h('select', { name: 'event', 'aria-label': ctx.t.events }, h('option', { value: '' }, ctx.t.allEvents),
    ...ctx.model.events.map((e) => h('option', { value: e }, eventLabel(lang, ctx.model.labels, e))));
  const boxes = ['START', 'END', 'PROBS'].map((type) => {
    const box = h('input', { type: 'checkbox', name: type, ...(filters.types.has(type) ? { checked: '' } : {}) });
    box.addEventListener('change', () => {
      if (box.checked) filters.types.add(type);
      else filters.types.delete(type);
      if (type === 'PROBS') connectFeed();
      void reloadEvents(list);
    });
    return h('label', { class: 'type' }, box, type);
  });
  cameraSelect.addEventListener('change', () => { filters.camera = cameraSelect.value; void reloadEvents(list); });
  eventSelect.addEventListener('change', () => { filters.event = eventSelect.value; void reloadEvents(list); });
  return h('div', { class: 'filters' }, cameraSelect, eventSelect, ...boxes);
}

// ---- the feed ------------------------------------------------------------------------------

function connectFeed(): void {
  feed?.close();
  feed = new EventSource(`/watch/feed${filters.types.has('PROBS') ? '?probs=true' : ''}`);
  const live = () => document.getElementById('live');
  feed.addEventListener('open', () => { live()?.classList.remove('down'); if (live()) live()!.textContent = ctx.t.live; });
  feed.addEventListener('error', () => { live()?.classList.add('down'); if (live()) live()!.textContent = ctx.t.reconnecting; });
  feed.addEventListener('event', (e) => {
    const entry = JSON.parse((e as MessageEvent<string>).data) as EventEntry;
    const list = document.getElementById('events');
    if (list) addRow(list, entry, true);
  });
  feed.addEventListener('delivery', (e) => {
    const { event_id, delivery } = JSON.parse((e as MessageEvent<string>).data) as Pick<EventDetail, 'delivery'> & { event_id: string };
    for (const el of document.querySelectorAll<HTMLElement>(`[data-id="${CSS.escape(event_id)}"] .delivery`)) {
      el.textContent = deliveryText(ctx.t, delivery);
      el.className = `delivery ${delivery.state}`;
    }
  });
  feed.addEventListener('cameras', (e) => {
    const { now_ms, cameras: changed } = JSON.parse((e as MessageEvent<string>).data) as { now_ms: number; cameras: Camera[] };
    ctx.skewMs = now_ms - Date.now();
    const grid = document.getElementById('cameras');
    if (grid) for (const camera of changed) upsertCamera(grid, camera, false);
    for (const id of cameras.keys()) renderCard(id);
  });
  feed.addEventListener('tick', (e) => {
    ctx.skewMs = (JSON.parse((e as MessageEvent<string>).data) as { now_ms: number }).now_ms - Date.now();
    for (const id of cameras.keys()) renderCard(id);
  });
  // Chunks were dropped while this page could not keep up: start again from the state.
  feed.addEventListener('resync', () => location.reload());
}

// ---- server panel --------------------------------------------------------------------------

async function refreshServer(panel: HTMLElement): Promise<void> {
  try {
    panel.replaceChildren(serverPanel(ctx, await getJson<ServerPanel>('/watch/api/server')));
  } catch (err) {
    if (err instanceof Unauthorized) showLogin();
  }
}

// ---- pages ---------------------------------------------------------------------------------

async function showWatch(state: State): Promise<void> {
  const grid = h('div', { class: 'grid', id: 'cameras' });
  const list = h('ol', { class: 'events', id: 'events' });
  const older = h('button', { type: 'button', class: 'older', id: 'older' }, ctx.t.older);
  older.addEventListener('click', () => void loadOlder(list));
  rememberOpened(list);
  const panel = h('section', { class: 'panel', id: 'server' });
  const cameraIds = [...new Set([...state.cameras.map((c) => c.id)])].sort();
  root.replaceChildren(header(), h('main', {},
    h('section', {}, h('h2', {}, ctx.t.cameras), grid),
    h('section', {}, h('h2', {}, ctx.t.events), filterBar(list, cameraIds), list, older, h('p', { class: 'older-status', id: 'older-status', role: 'status' })),
    h('section', {}, h('h2', {}, ctx.t.server), panel)));
  cameras.clear();
  if (!state.cameras.length) grid.append(h('p', { class: 'empty' }, ctx.t.noCameras));
  for (const camera of state.cameras) upsertCamera(grid, camera, true);
  showEvents(list, { events: state.events, next: state.events_next });
  void refreshServer(panel);
  setInterval(() => void refreshServer(panel), 5000);
  connectFeed();
}

async function showEvent(id: string): Promise<void> {
  const { t } = ctx;
  const main = h('main', { class: 'event-page' });
  root.replaceChildren(header(), main);
  let detail: EventDetail;
  let note: HTMLElement | null = null;
  try {
    detail = await getJson<EventDetail>(`/watch/api/event?id=${encodeURIComponent(id)}`);
  } catch (err) {
    if (err instanceof Unauthorized) return showLogin();
    const opened = JSON.parse(sessionStorage.getItem(OPENED_KEY) ?? 'null') as EventEntry | null;
    if (opened?.record.event_id !== id) {
      main.append(h('p', {}, t.unknownEvent), h('p', {}, h('a', { href: '/watch' }, t.back)));
      return;
    }
    detail = { ...opened, start: null, points: [] };
    note = h('p', { class: 'note' }, t.storedEvent);
  }
  const r = detail.record;
  const data = r.data ?? {};
  const event = typeof data.event === 'string' ? data.event : typeof data.top_event === 'string' ? data.top_event : null;
  const row = (name: string, value: string | null) => (value === null ? null : h('div', { class: 'kv' }, h('dt', {}, name), h('dd', {}, value)));
  const num = (key: string) => (typeof data[key] === 'number' ? data[key] as number : null);
  const duration = num('duration_sec');
  const ts = num('ts');
  const prob = num('prob') ?? num('top_prob');
  const plot = h('div', { class: 'plot wide' });
  main.append(
    h('p', {}, h('a', { href: '/watch' }, t.back)),
    h('h2', {}, `${eventLabel(lang, ctx.model.labels, event)} · ${r.event_type}`),
    ...(note ? [note] : []),
    h('dl', { class: 'detail' },
      row(t.camera, r.session_id ?? '-'),
      row(t.when, detail.received_ms === null ? null : dateTime(lang, detail.received_ms)),
      detail.start?.received_ms ? row(t.started, dateTime(lang, detail.start.received_ms)) : null,
      row(t.duration, duration === null ? null : `${clock(duration)} (${duration.toFixed(1)} s)`),
      row(t.score, prob === null ? null : prob.toFixed(2)),
      row(t.videoTime, ts === null ? null : `${ts >= 1e9 ? dateTime(lang, ts * 1000) : clock(ts)} (${ts})`),
      row(t.frame, num('frame_idx') === null ? null : String(num('frame_idx'))),
      r.event_type === 'END' ? row(t.memo, deliveryText(t, detail.delivery)) : null),
  );
  if (detail.points.length) {
    main.append(h('h3', {}, t.scoresAround), plot);
    chart(plot, detail.points, 120);
  }
}

async function boot(): Promise<void> {
  document.documentElement.lang = lang;
  document.title = ctx.t.title;
  if (root.dataset.view === 'login') return showLogin();
  let state: State;
  try {
    state = await getJson<State>('/watch/api/state');
  } catch (err) {
    if (err instanceof Unauthorized) return showLogin();
    throw err;
  }
  ctx.model = state.model;
  ctx.skewMs = state.now_ms - Date.now();
  ctx.silentAfterMs = state.silent_after_ms;
  const match = /^\/watch\/events\/([^/]+)$/.exec(location.pathname);
  if (match?.[1]) return showEvent(decodeURIComponent(match[1]));
  return showWatch(state);
}

void boot();
