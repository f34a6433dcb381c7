/**
 * /openapi.json, built from the route table: the schemas that validate requests are the ones
 * documented. Titled schemas become components referenced by $ref.
 */
import type { TSchema } from '@sinclair/typebox';
import type { RouteSpec } from './route.js';
import { JSON_TYPE } from './reply.js';

type Json = Record<string, unknown>;

export interface OpenApiInfo {
  title: string;
  version: string;
  description: string;
}

/** Documentation for what the route table cannot describe (the WebSocket endpoint). */
export interface OpenApiExtra {
  paths: Record<string, Json>;
  /** Titled schemas to publish as components (referenced from the paths' descriptions). */
  schemas: readonly TSchema[];
}

export function buildOpenApi(routes: readonly RouteSpec<any, any>[], info: OpenApiInfo, extra?: OpenApiExtra): Json {
  const components: Record<string, Json> = {};
  const ref = (schema: TSchema): Json => componentRef(schema, components);
  const paths: Record<string, Json> = { ...extra?.paths };
  for (const schema of extra?.schemas ?? []) ref(schema);

  for (const route of routes) {
    if (route.undocumented) continue;
    const operation: Json = {
      summary: route.summary,
      operationId: route.name,
      tags: route.tags ?? [],
      responses: Object.fromEntries(
        Object.entries(route.responses).map(([status, doc]) => [
          status,
          { description: doc.description, ...(doc.schema || doc.contentType ? { content: { [doc.contentType ?? JSON_TYPE]: doc.schema ? { schema: ref(doc.schema) } : {} } } : {}) },
        ]),
      ),
    };
    if (route.body) operation.requestBody = { required: true, content: { [JSON_TYPE]: { schema: ref(route.body.schema) } } };
    const pathParameters = [...route.paths[0]!.matchAll(/\/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (route.query || pathParameters.length) operation.parameters = [...pathParameters, ...(route.query ? queryParameters(route.query) : [])];
    if (route.admin) operation.security = [{ adminToken: [] }];
    if (route.paths.length > 1) operation.description = `Also served at ${route.paths.slice(1).join(', ')}.`;
    // uWebSockets.js writes a path parameter as /:name, OpenAPI as /{name}.
    const item = (paths[route.paths[0]!.replace(/\/:(\w+)/g, '/{$1}')] ??= {});
    item[route.method.toLowerCase()] = operation;
  }

  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      schemas: components,
      securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'BACKEND_ADMIN_TOKEN, when it is set' } },
    },
  };
}

/** Plain JSON of a TypeBox schema, with every titled sub-schema moved into components. */
function componentRef(schema: TSchema, components: Record<string, Json>): Json {
  const plain = JSON.parse(JSON.stringify(schema)) as Json;
  return hoist(plain, components);
}

function hoist(node: unknown, components: Record<string, Json>): any {
  if (Array.isArray(node)) return node.map((n) => hoist(n, components));
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) out[key] = hoist(value, components);
  const title = typeof out.title === 'string' ? out.title : null;
  if (!title) return out;
  components[title] = out;
  return { $ref: `#/components/schemas/${title}` };
}

function queryParameters(schema: TSchema): Json[] {
  const properties = (schema as unknown as { properties: Record<string, Json> }).properties;
  const required = new Set((schema as unknown as { required?: string[] }).required ?? []);
  return Object.entries(properties).map(([name, prop]) => ({ name, in: 'query', required: required.has(name), schema: JSON.parse(JSON.stringify(prop)) }));
}
