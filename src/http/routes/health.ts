import { EchoRequest, EchoResponse, HealthResponse, HTTPValidationError, ReadyResponse } from '../../contracts/api.js';
import { defineRoute, type RouteSpec } from '../route.js';

export interface Readiness {
  ready: boolean;
  /** The /ready body: status, reasons when not ready, and what is running. */
  body: Record<string, unknown>;
}

const HEALTH_OK = JSON.stringify({ status: 'ok' });

export function healthRoutes(readiness: () => Readiness): RouteSpec<any, any>[] {
  return [
    defineRoute({
      method: 'GET',
      paths: ['/health'],
      name: 'health',
      summary: 'Liveness: the process answers (never touches the model)',
      tags: ['health'],
      responses: { 200: { description: 'Alive', schema: HealthResponse } },
      handler: () => ({ raw: HEALTH_OK }),
    }),
    defineRoute({
      method: 'GET',
      paths: ['/ready'],
      name: 'ready',
      summary: 'Readiness: every inference worker has its model and the event log is writable',
      tags: ['health'],
      responses: {
        200: { description: 'Ready', schema: ReadyResponse },
        503: { description: 'Not ready; `reasons` says why', schema: ReadyResponse },
      },
      handler: () => {
        const state = readiness();
        return { status: state.ready ? 200 : 503, json: state.body };
      },
    }),
    defineRoute<Record<string, unknown>>({
      method: 'POST',
      paths: ['/echo'],
      name: 'echo',
      summary: 'Echo a JSON object back with the server time',
      tags: ['health'],
      body: { schema: EchoRequest },
      responses: {
        200: { description: 'The object and the server time (unix seconds)', schema: EchoResponse },
        422: { description: 'Not JSON, or not an object', schema: HTTPValidationError },
      },
      handler: ({ body }) => ({ json: { echo: body, ts: Date.now() / 1000 } }),
    }),
  ];
}
