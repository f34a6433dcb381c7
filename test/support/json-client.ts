/**
 * The one JSON client of the tests: the agent's own keep-alive client (node:http), so tests talk to
 * the server as the agents do. `jsonClient` ties one to a test's life.
 */
import type { Test } from 'tap';
import { JsonClient } from '../../src/agent/http-client.js';

export { describeFailure, JsonClient, type JsonResponse } from '../../src/agent/http-client.js';

/** A client for `url` (up to `maxSockets` requests at once), closed when `t` ends. */
export function jsonClient(t: Test, url: string, maxSockets = 64): JsonClient {
  const client = new JsonClient(url, maxSockets);
  t.teardown(() => client.close());
  return client;
}
