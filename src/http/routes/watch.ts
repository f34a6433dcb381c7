/**
 * The watch page for the person on watch: GET /watch (and / sends you there), /watch/events/{id},
 * the page's own script and style, uPlot from node_modules, its JSON (state, events, one event,
 * server panel) and its live feed as Server-Sent Events. Every asset is this server's; a
 * Content-Security-Policy holds the page to its own origin.
 *
 * Why Server-Sent Events, not a second WebSocket protocol: the feed only flows one way, EventSource
 * reconnects by itself, it is plain HTTP through any proxy, and it needs no protocol of its own.
 *
 * Access: with BACKEND_WATCH_TOKEN set, the page, its data and its feed need that token (or
 * BACKEND_ADMIN_TOKEN), given once in the login form, which sets an HttpOnly SameSite=Strict cookie
 * holding a value derived from the token (not the token), or as `Authorization: Bearer`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { PROJECT_ROOT } from '../../common/paths.js';
import type { Exchange } from '../exchange.js';
import { defineRoute, type RouteResult, type RouteSpec } from '../route.js';
import type { WatchService, FeedMessage } from '../../watch/watch-service.js';
import type { CameraBoard } from '../../watch/camera-board.js';
import { MAX_CURSOR_CHARS } from '../../watch/event-history.js';

const require = createRequire(import.meta.url);
const UPLOT_DIR = join(dirname(require.resolve('uplot/package.json')), 'dist');
/** Where `npm run build` puts the page's compiled script (src/watch/page → dist/watch-page). */
export const WATCH_PAGE_BUILD = join(PROJECT_ROOT, 'dist', 'watch-page');
const WATCH_PAGE_SOURCE = join(PROJECT_ROOT, 'src', 'watch', 'page');

const HTML = 'text/html; charset=utf-8';
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const COOKIE = 'watch_session';

/** Own origin only, no inline script or style (uPlot sizes its elements through the DOM, which the policy allows). */
export const WATCH_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS = { 'Content-Security-Policy': WATCH_CSP, 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer', 'X-Content-Type-Options': 'nosniff' };

function page(view: 'app' | 'login'): string {
  return `<!doctype html>
<html lang="ko">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="light dark">
  <title>이상행동 감시</title>
  <link rel="stylesheet" href="/watch/assets/uPlot.min.css">
  <link rel="stylesheet" href="/watch/assets/watch.css">
  <script defer src="/watch/assets/uPlot.iife.min.js"></script>
  <script type="module" src="/watch/assets/main.js"></script>
</head>
<body data-view="${view}">
  <noscript>This page needs JavaScript.</noscript>
</body>
</html>
`;
}

/** The page's files: its compiled modules, its style, uPlot's script and style; read when first asked for. */
function assetFiles(): Map<string, { type: string; path: string }> {
  const files = new Map<string, { type: string; path: string }>([
    ['uPlot.iife.min.js', { type: JS, path: join(UPLOT_DIR, 'uPlot.iife.min.js') }],
    ['uPlot.min.css', { type: CSS, path: join(UPLOT_DIR, 'uPlot.min.css') }],
    ['watch.css', { type: CSS, path: join(WATCH_PAGE_SOURCE, 'watch.css') }],
  ]);
  for (const module of ['main.js', 'i18n.js', 'views.js', 'api.js']) files.set(module, { type: JS, path: join(WATCH_PAGE_BUILD, module) });
  return files;
}

/** A cookie value that proves the token was given, without being it. */
function sessionValue(token: string): string {
  return createHmac('sha256', token).update('watch-session-v1').digest('base64url');
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieValue(header: string, name: string): string | null {
  for (const part of header.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return null;
}

export interface WatchRouteDeps {
  service: WatchService;
  board: CameraBoard;
  /** BACKEND_WATCH_TOKEN, or null for an open page. */
  token: string | null;
  adminToken: string | null;
  /** BACKEND_PUBLIC_URL is https: the cookie is marked Secure. */
  secureCookie: boolean;
}

const EventsQuery = Type.Object({
  /** The `next` of an earlier page; absent for the newest page. */
  before: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_CURSOR_CHARS })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  camera: Type.Optional(Type.String({ maxLength: 256 })),
  event: Type.Optional(Type.String({ maxLength: 256 })),
  types: Type.Optional(Type.String({ maxLength: 256 })),
});
const EventQuery = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const FeedQuery = Type.Object({ probs: Type.Optional(Type.Boolean()) });
const LoginBody = Type.Object({ token: Type.String({ maxLength: 4096 }) });

export function watchRoutes(deps: WatchRouteDeps): RouteSpec<any, any>[] {
  const secrets = [deps.token, deps.token ? deps.adminToken : null].filter((s): s is string => Boolean(s));
  const sessions = secrets.map(sessionValue);
  const bearers = secrets.map((s) => `Bearer ${s}`);
  const allowed = (ex: Exchange): boolean => {
    if (secrets.length === 0) return true;
    const cookie = cookieValue(ex.cookie, COOKIE);
    if (cookie !== null && sessions.some((s) => sameSecret(cookie, s))) return true;
    return ex.authorization !== '' && bearers.some((b) => sameSecret(ex.authorization, b));
  };
  const denied: RouteResult = { status: 401, json: { detail: 'the watch page needs BACKEND_WATCH_TOKEN: log in at /watch' }, headers: { 'Cache-Control': 'no-store' } };
  const guarded = <Q>(handler: (query: Q) => RouteResult | Promise<RouteResult>) =>
    ({ query, exchange }: { query: Q; exchange: Exchange }) => (allowed(exchange) ? handler(query) : denied);

  const files = assetFiles();
  const cache = new Map<string, Buffer>();
  const assetRoutes = [...files].map(([name, file]) => defineRoute({
    method: 'GET',
    paths: [`/watch/assets/${name}`],
    name: 'watch_asset',
    summary: name,
    undocumented: true,
    responses: { 200: { description: name, contentType: file.type } },
    handler: (): RouteResult => {
      let bytes = cache.get(name);
      if (!bytes) {
        if (!existsSync(file.path)) return { status: 503, json: { detail: `${name} is not built: run npm run build` } };
        // Source-map comments go: the maps are not served.
        bytes = Buffer.from(readFileSync(file.path, 'utf8').replace(/\n?\/[/*][#@] sourceMappingURL=[^\n]*\s*$/, '\n'));
        cache.set(name, bytes);
      }
      return { raw: bytes, contentType: file.type, headers: { 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' } };
    },
  }));

  const pageRoute = (paths: string[], name: string) => defineRoute({
    method: 'GET',
    paths,
    name,
    summary: 'The watch page',
    undocumented: true,
    responses: { 200: { description: 'HTML page', contentType: HTML } },
    handler: ({ exchange }) => (allowed(exchange)
      ? { raw: page('app'), contentType: HTML, headers: PAGE_HEADERS }
      : { status: 401, raw: page('login'), contentType: HTML, headers: PAGE_HEADERS }),
  });

  return [
    defineRoute({
      method: 'GET',
      paths: ['/'],
      name: 'root',
      summary: 'Sends you to the watch page',
      undocumented: true,
      responses: { 302: { description: 'to /watch' } },
      handler: () => ({ status: 302, raw: '', contentType: 'text/plain', headers: { Location: '/watch' } }),
    }),
    pageRoute(['/watch'], 'watch'),
    pageRoute(['/watch/events/:id'], 'watch_event_page'),
    ...assetRoutes,
    defineRoute({
      method: 'POST',
      paths: ['/watch/login'],
      name: 'watch_login',
      summary: 'Log in to the watch page',
      undocumented: true,
      body: { schema: LoginBody },
      responses: { 204: { description: 'the cookie is set' }, 401: { description: 'wrong token' } },
      handler: ({ body }: { body: { token: string } }): RouteResult => {
        const at = secrets.findIndex((s) => sameSecret(body.token, s));
        if (secrets.length > 0 && at < 0) return { status: 401, json: { detail: 'wrong token' } };
        const value = secrets.length ? sessions[at]! : '';
        const cookie = `${COOKIE}=${value}; Path=/watch; HttpOnly; SameSite=Strict; Max-Age=2592000${deps.secureCookie ? '; Secure' : ''}`;
        return { status: 204, raw: '', headers: { 'Set-Cookie': cookie, 'Cache-Control': 'no-store' } };
      },
    }),
    defineRoute({
      method: 'POST',
      paths: ['/watch/logout'],
      name: 'watch_logout',
      summary: 'Log out of the watch page',
      undocumented: true,
      body: { schema: Type.Object({}), optional: true },
      responses: { 204: { description: 'the cookie is cleared' } },
      handler: (): RouteResult => ({ status: 204, raw: '', headers: { 'Set-Cookie': `${COOKIE}=; Path=/watch; HttpOnly; SameSite=Strict; Max-Age=0` } }),
    }),
    defineRoute({
      method: 'GET',
      paths: ['/watch/api/state'],
      name: 'watch_state',
      summary: 'Cameras, newest events and the model, for the watch page',
      undocumented: true,
      responses: { 200: { description: 'state' } },
      handler: guarded(() => ({ json: deps.service.snapshot(), headers: { 'Cache-Control': 'no-store' } })),
    }),
    defineRoute({
      method: 'GET',
      paths: ['/watch/api/events'],
      name: 'watch_events',
      summary: 'Events, newest first, filtered: the newest kept in memory, then older pages from the event store',
      undocumented: true,
      query: EventsQuery,
      responses: { 200: { description: 'events and the cursor of the next older page' }, 422: { description: 'a cursor this server did not give' } },
      handler: guarded(async (q: { before?: string; limit?: number; camera?: string; event?: string; types?: string }) => {
        const query = { limit: q.limit ?? 50, camera: q.camera, event: q.event, types: q.types ? q.types.split(',').filter(Boolean) : undefined };
        const page = q.before === undefined ? deps.service.history.first(query) : await deps.service.history.older(q.before, query);
        return { json: page, headers: { 'Cache-Control': 'no-store' } };
      }),
    }),
    defineRoute({
      method: 'GET',
      paths: ['/watch/api/event'],
      name: 'watch_event',
      summary: 'One event: what, when, how long, camera, scores around it, its memo',
      undocumented: true,
      query: EventQuery,
      responses: { 200: { description: 'the event' }, 404: { description: 'no longer kept' } },
      // Only what the board keeps: finding an id in the store means reading all of it, on any request.
      handler: guarded((q: { id: string }) => {
        const event = deps.board.event(q.id);
        return event ? { json: event, headers: { 'Cache-Control': 'no-store' } } : { status: 404, json: { detail: 'this event is not among the recent events kept in memory' } };
      }),
    }),
    defineRoute({
      method: 'GET',
      paths: ['/watch/api/server'],
      name: 'watch_server',
      summary: 'The server panel',
      undocumented: true,
      responses: { 200: { description: 'server state' } },
      handler: guarded(async () => ({ json: await deps.service.server(), headers: { 'Cache-Control': 'no-store' } })),
    }),
    defineRoute({
      method: 'GET',
      paths: ['/watch/feed'],
      name: 'watch_feed',
      summary: 'Live feed of the watch page (Server-Sent Events)',
      undocumented: true,
      query: FeedQuery,
      responses: { 200: { description: 'text/event-stream', contentType: 'text/event-stream' } },
      handler: guarded((q: { probs?: boolean }) => ({
        stream: (out) => deps.service.listen((message: FeedMessage) => {
          if (message.chatty && !q.probs) return;
          out.write(`event: ${message.name}\ndata: ${JSON.stringify(message.data)}\n\n`);
        }),
      })),
    }),
  ];
}
