import type { Registry } from 'prom-client';
import { defineRoute, type RouteSpec } from '../route.js';

export function metricsRoutes(registry: Registry): RouteSpec<any, any>[] {
  return [
    defineRoute({
      method: 'GET',
      paths: ['/metrics'],
      name: 'metrics',
      summary: 'Prometheus metrics',
      tags: ['health'],
      responses: { 200: { description: 'Prometheus text format', contentType: registry.contentType } },
      handler: async () => ({ raw: await registry.metrics(), contentType: registry.contentType }),
    }),
  ];
}
