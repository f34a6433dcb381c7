/**
 * What a route is: method, path(s), schemas and a handler. The server dispatches on this table
 * and /openapi.json is generated from it, so a route is declared exactly once.
 */
import type { TSchema } from '@sinclair/typebox';
import type { EventStreamOut, Exchange } from './exchange.js';

export type Method = 'GET' | 'POST';

export interface RouteResult {
  status?: number;
  /** A value to serialize as JSON. */
  json?: unknown;
  /** A body already in its final form (pre-serialized JSON, HTML, Prometheus text, a file). */
  raw?: string | Uint8Array;
  contentType?: string;
  headers?: Readonly<Record<string, string>>;
  /**
   * An answer that stays open (Server-Sent Events): the headers go out at once, then `start` gets
   * the stream and returns what to do once the client has gone (or the server closed it).
   */
  stream?: (out: EventStreamOut) => () => void;
}

export interface RouteContext<B, Q> {
  body: B;
  query: Q;
  exchange: Exchange;
}

export interface ResponseDoc {
  description: string;
  schema?: TSchema;
  contentType?: string;
}

export interface RouteSpec<B = unknown, Q = unknown> {
  method: Method;
  /** The first path is documented; the others are aliases the seed also served. */
  paths: readonly string[];
  /** Label for metrics and logs. */
  name: string;
  summary: string;
  tags?: readonly string[];
  body?: {
    schema: TSchema;
    /** An empty body is allowed and reaches the handler as undefined. */
    optional?: boolean;
    /**
     * Optional fast path for a hot route: returns the validated value straight from the bytes,
     * or undefined to fall back to JSON.parse + the schema (which also reports the errors).
     */
    fastParse?: (bytes: Buffer) => B | undefined;
  };
  query?: TSchema;
  /** Needs `Authorization: Bearer <BACKEND_ADMIN_TOKEN>` when that token is configured. */
  admin?: boolean;
  responses: Readonly<Record<number, ResponseDoc>>;
  /** Left out of /openapi.json (the docs' own assets). */
  undocumented?: boolean;
  handler(ctx: RouteContext<B, Q>): RouteResult | Promise<RouteResult>;
}

/** Helps TypeScript infer B and Q for one route while the table holds RouteSpec<any, any>. */
export function defineRoute<B = undefined, Q = undefined>(spec: RouteSpec<B, Q>): RouteSpec<B, Q> {
  return spec;
}
