/**
 * The HTTP server: the route table on uWebSockets.js, the one place errors become responses,
 * per-request metrics, listen and graceful close. The only module (with its siblings in
 * src/http/) that imports uWebSockets.js.
 */
import { timingSafeEqual } from 'node:crypto';
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import { AppError } from '../common/errors.js';
import type { HttpConfig } from '../config.js';
import type { Logger } from '../common/log.js';
import type { Metrics } from '../metrics.js';
import { RequestValidationError } from '../validation/fastapi-errors.js';
import { clipText } from '../validation/input-limits.js';
import { compileValidator, type Validator } from '../validation/validators.js';
import { BodyBuffers } from './body-buffers.js';
import { AccessLog } from './access-log.js';
import { assertJsonBody } from './content-type.js';
import { AbortedError, Exchange, PayloadTooLargeError } from './exchange.js';
import { framingProblem, refuseFraming } from './framing.js';
import { listenOn } from './listen.js';
import { corsPolicy, type CorsPolicy } from './reply.js';
import { parseJsonBody, queryObject } from './request-body.js';
import type { RouteResult, RouteSpec } from './route.js';
import { assertSameOrigin } from './same-origin.js';

/** Whether the native uWebSockets.js binary loaded (the package silently falls back to a slow pure-JS server). */
export const UWS_IS_NATIVE = String(uWS.App).includes('[native code]');

const NOT_FOUND = JSON.stringify({ detail: 'Not Found' });
const METHOD_NOT_ALLOWED = JSON.stringify({ detail: 'Method Not Allowed' });
const INTERNAL = JSON.stringify({ detail: 'Internal Server Error' });
/** The debug endpoints' policy: no CORS headers, ever. */
const NO_CORS: CorsPolicy = { allowOrigin: () => null, needsOrigin: false };

interface CompiledRoute {
  spec: RouteSpec<any, any>;
  body?: Validator<unknown>;
  query?: Validator<unknown>;
}

export interface HttpServerOptions {
  routes: readonly RouteSpec<any, any>[];
  config: HttpConfig;
  logger: Logger;
  metrics: Metrics;
  /** Lets other src/http modules (the stream endpoint) add their handlers to the same app. */
  extend?: (app: TemplatedApp) => void;
}

export class HttpServer {
  readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | null = null;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly cors: CorsPolicy;
  private readonly adminToken: Buffer | null;
  /** 256 KiB slabs hold the agents' 16- and 60-frame windows; 64 of them cover 64 bodies in flight at once. */
  private readonly bodyBuffers = new BodyBuffers(256 * 1024, 64);
  private readonly requestCounters = new Map<string, { inc(): void }>();
  private readonly durations = new Map<string, { observe(v: number): void }>();
  private readonly accessLog: AccessLog;

  constructor(private readonly options: HttpServerOptions) {
    this.cors = corsPolicy(options.config.corsOrigins);
    this.adminToken = options.config.adminToken ? Buffer.from(`Bearer ${options.config.adminToken}`) : null;
    this.accessLog = new AccessLog(options.config.accessLog, options.logger);
    this.app = uWS.App();
    this.mountRoutes();
    options.extend?.(this.app);
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  async listen(): Promise<number> {
    const { host, port, reusePort } = this.options.config;
    this.listenSocket = await listenOn(this.app, host, port, reusePort);
    return uWS.us_socket_local_port(this.listenSocket);
  }

  /** Stops accepting connections; requests already read keep being served. */
  stopListening(): void {
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
  }

  /** Resolves when no request is in flight, or after `timeoutMs`; returns whether it drained. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const drained = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const result = await Promise.race([drained, timedOut]);
    clearTimeout(timer);
    return result;
  }

  /** Closes every connection. Call after stopListening() and drain(). */
  close(): void {
    this.stopListening();
    // close() exists on the native app since v20.x but is missing from the bundled type definitions.
    (this.app as TemplatedApp & { close(): void }).close();
  }

  private mountRoutes(): void {
    const byPath = new Map<string, Map<string, CompiledRoute>>();
    for (const spec of this.options.routes) {
      const compiled: CompiledRoute = {
        spec,
        body: spec.body ? compileValidator(spec.body.schema, 'body') : undefined,
        query: spec.query ? compileValidator(spec.query, 'query') : undefined,
      };
      for (const path of spec.paths) {
        const methods = byPath.get(path) ?? new Map<string, CompiledRoute>();
        methods.set(spec.method.toLowerCase(), compiled);
        byPath.set(path, methods);
      }
    }
    for (const [path, methods] of byPath) {
      const cors = [...methods.values()].some((route) => route.spec.admin) ? NO_CORS : this.cors;
      this.app.any(path, (res, req) => {
        if (this.refusedFraming(res, req)) return;
        const method = req.getMethod();
        // HEAD is GET without the body (Exchange sends only the headers).
        const route = methods.get(method) ?? (method === 'head' ? methods.get('get') : undefined);
        if (route) return this.dispatch(route, cors, res, req, path);
        if (method === 'options') return this.preflight(res, req, [...methods.keys()], cors);
        this.answerStatic(res, req, 405, METHOD_NOT_ALLOWED, 'method_not_allowed', { Allow: [...methods.keys()].map((m) => m.toUpperCase()).join(', ') }, cors);
      });
    }
    this.app.any('/*', (res, req) => {
      if (this.refusedFraming(res, req)) return;
      if (req.getMethod() === 'options') return this.preflight(res, req, [], this.cors);
      this.answerStatic(res, req, 404, NOT_FOUND, 'not_found');
    });
  }

  /** Refuses (400, connection closed) a request whose framing headers cannot be trusted. */
  private refusedFraming(res: HttpResponse, req: HttpRequest): boolean {
    const problem = framingProblem(req);
    if (problem === null) return false;
    refuseFraming(res, problem);
    this.options.metrics.http.requests.labels('bad_framing', '400').inc();
    return true;
  }

  private dispatch(route: CompiledRoute, cors: CorsPolicy, res: HttpResponse, req: HttpRequest, path: string): void {
    const ex = new Exchange(res, req, route.spec.method, path, cors.allowOrigin, cors.needsOrigin);
    try {
      if (route.spec.admin) assertSameOrigin(req.getHeader('origin'), req.getHeader('host'), req.getHeader('sec-fetch-site'));
      this.authorize(route.spec, ex);
      if (route.spec.body) assertJsonBody(req.getHeader('content-type'), req.getHeader('origin'));
      const query = route.query ? this.validateQuery(route.query, ex.query) : undefined;
      if (!route.spec.body) {
        const result = route.spec.handler({ body: undefined, query, exchange: ex });
        // Synchronous handlers (health, docs) answer inside the uWS callback: no abort tracking needed.
        if (!(result instanceof Promise)) return this.reply(route.spec, ex, result);
        ex.watchAbort();
        this.track(route.spec, ex, result);
        return;
      }
      ex.watchAbort();
      const validate = route.body!;
      const { fastParse, optional } = route.spec.body;
      const work = ex.readBody(this.options.config.maxBodyBytes, this.bodyBuffers).then((bytes) => {
        let body: unknown;
        try {
          body = parseJsonBody(bytes, validate, fastParse, optional);
        } finally {
          ex.releaseBody(); // decoded (or refused): nothing refers to the bytes any more
        }
        return route.spec.handler({ body, query, exchange: ex });
      });
      this.track(route.spec, ex, work);
    } catch (err) {
      this.fail(route.spec.name, ex, err);
    }
  }

  /**
   * Counts an asynchronous request as in flight until it is answered (or its client leaves).
   * Whatever the work or its answer throws ends as a response: nothing reaches the process.
   */
  private track(spec: RouteSpec<any, any>, ex: Exchange, work: Promise<RouteResult>): void {
    this.inFlight++;
    work
      .then((result) => this.reply(spec, ex, result))
      .catch((err: unknown) => this.fail(spec.name, ex, err))
      .finally(() => {
        if (--this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
  }

  private reply(spec: RouteSpec<any, any>, ex: Exchange, result: RouteResult): void {
    if (result.stream) {
      // Not in flight: an event stream lasts until its client goes; shutdown closes it with the connections.
      if (ex.openEventStream(result.stream, result.headers)) this.observe(spec.name, ex, 200);
      return;
    }
    const status = result.status ?? 200;
    const body = result.raw ?? JSON.stringify(result.json);
    if (ex.send(status, body, result.contentType, result.headers)) this.observe(spec.name, ex, status);
  }

  /**
   * The single mapping from an error to an HTTP answer. Never leaks a stack trace and never throws:
   * it runs inside uWS callbacks and promise chains, where an exception would end the process.
   */
  private fail(routeName: string, ex: Exchange, err: unknown): void {
    try {
      this.answerError(routeName, ex, err);
    } catch (failure) {
      this.options.logger.error({ err: failure, route: routeName }, 'could not answer an error');
      if (ex.send(500, INTERNAL)) this.observe(routeName, ex, 500);
    }
  }

  private answerError(routeName: string, ex: Exchange, err: unknown): void {
    if (err instanceof AbortedError || ex.aborted) return;
    let status: number;
    let body: string;
    let headers: Record<string, string> | undefined;
    let close = false;
    if (err instanceof RequestValidationError) {
      status = 422;
      body = JSON.stringify({ detail: err.items });
    } else if (err instanceof AppError) {
      status = err.status;
      body = JSON.stringify({ detail: err.message });
      const retry = err.retryAfterSeconds;
      if (retry !== undefined) headers = { 'Retry-After': String(retry) };
      if (err.code === 'unauthorized') headers = { 'WWW-Authenticate': 'Bearer' };
      // 503s (overload, backlog, loading, shutdown) are counted, not logged: a line per refused
      // request would add work exactly when the server has none to spare.
      if (status === 500) this.options.logger.warn({ route: routeName, code: err.code, reason: clipText(err.message) }, 'request failed');
    } else if (err instanceof PayloadTooLargeError) {
      status = 413;
      body = JSON.stringify({ detail: err.message });
      close = true; // the rest of the body is never read, so this connection cannot carry another request
    } else {
      status = 500;
      body = INTERNAL;
      this.options.logger.error({ err, route: routeName }, 'unhandled error');
    }
    if (ex.send(status, body, undefined, headers, close)) this.observe(routeName, ex, status);
  }

  private authorize(spec: RouteSpec<any, any>, ex: Exchange): void {
    if (!spec.admin || !this.adminToken) return;
    const given = Buffer.from(ex.authorization);
    if (given.length !== this.adminToken.length || !timingSafeEqual(given, this.adminToken)) {
      throw new AppError('unauthorized', 'this endpoint needs Authorization: Bearer <BACKEND_ADMIN_TOKEN>');
    }
  }

  private validateQuery(validator: Validator<unknown>, query: string): unknown {
    const result = validator(queryObject(query));
    if (!result.ok) throw new RequestValidationError(result.errors);
    return result.value;
  }

  private preflight(res: HttpResponse, req: HttpRequest, methods: string[], cors: CorsPolicy): void {
    const allowOrigin = cors.allowOrigin(cors.needsOrigin ? req.getHeader('origin') : '');
    const requested = req.getHeader('access-control-request-headers');
    res.cork(() => {
      res.writeStatus('204 No Content');
      if (allowOrigin) {
        res.writeHeader('Access-Control-Allow-Origin', allowOrigin);
        res.writeHeader('Access-Control-Allow-Methods', methods.length ? [...methods, 'options'].join(', ').toUpperCase() : 'GET, POST, OPTIONS');
        res.writeHeader('Access-Control-Allow-Headers', requested || 'Content-Type, Authorization');
        res.writeHeader('Access-Control-Max-Age', '600');
        if (allowOrigin !== '*') res.writeHeader('Vary', 'Origin');
      }
      res.endWithoutBody();
    });
  }

  private answerStatic(res: HttpResponse, req: HttpRequest, status: number, body: string, name: string, headers?: Record<string, string>, cors = this.cors): void {
    const ex = new Exchange(res, req, req.getMethod().toUpperCase(), req.getUrl(), cors.allowOrigin, cors.needsOrigin);
    if (ex.send(status, body, undefined, headers)) this.observe(name, ex, status);
  }

  private observe(route: string, ex: Exchange, status: number): void {
    const key = `${route} ${status}`;
    let counter = this.requestCounters.get(key);
    if (!counter) this.requestCounters.set(key, (counter = this.options.metrics.http.requests.labels(route, String(status))));
    counter.inc();
    let histogram = this.durations.get(route);
    if (!histogram) this.durations.set(route, (histogram = this.options.metrics.http.duration.labels(route)));
    histogram.observe((performance.now() - ex.startedAt) / 1000);
    this.accessLog.record(ex.method, ex.path, status, ex.startedAt);
  }
}
