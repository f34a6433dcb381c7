import type { Registry } from 'prom-client';
import { defineRoute, type RouteSpec } from '../route.js';

/**
 * `everyProcess`: under BACKEND_PROCESSES, every server process's figures merged (through the
 * supervisor: src/process-metrics.ts); without it, this process's registry.
 */
export function metricsRoutes(registry: Registry, everyProcess?: () => Promise<string>): RouteSpec<any, any>[] {
  return [
    defineRoute({
      method: 'GET',
      paths: ['/metrics'],
      name: 'metrics',
      summary: 'Prometheus metrics (of every server process under BACKEND_PROCESSES)',
      tags: ['health'],
      responses: {
        200: { description: 'Prometheus text format', contentType: registry.contentType },
        503: { description: 'Under BACKEND_PROCESSES: the supervisor did not answer (one line of text)', contentType: 'text/plain; charset=utf-8' },
      },
      handler: async () => {
        if (!everyProcess) return { raw: await registry.metrics(), contentType: registry.contentType };
        return everyProcess().then(
          (text) => ({ raw: text, contentType: registry.contentType }),
          (err: Error) => ({ status: 503, raw: `${err.message}\n`, contentType: 'text/plain; charset=utf-8' }),
        );
      },
    }),
  ];
}
