import { ErrorMessage, EventAccepted, EventPayload, EventRecordSchema, HTTPValidationError, RecentQuery, StructuredEvent } from '../../contracts/api.js';
import type { EventLog } from '../../events/event-log.js';
import { idempotencyKey, requestFingerprint, type EventWriteKeys } from '../../events/idempotency.js';
import { newEventId, recordFromPayload, recordFromStructured } from '../../events/records.js';
import { Type } from '@sinclair/typebox';
import type { Exchange } from '../exchange.js';
import { defineRoute, type RouteResult, type RouteSpec } from '../route.js';

const accepted = (eventId: string): RouteResult => ({ raw: `{"success":true,"event_id":"${eventId}"}` });

const writeFailures = {
  400: { description: 'Idempotency-Key longer than 255 characters', schema: ErrorMessage },
  422: { description: 'Not JSON, schema errors (list), a probs list that does not match events, or an Idempotency-Key already used with another body (message)', schema: HTTPValidationError },
  503: { description: 'The event log cannot be written, or its backlog is full (Retry-After)', schema: ErrorMessage },
};

export function eventRoutes(events: EventLog, keys: EventWriteKeys): RouteSpec<any, any>[] {
  /** Writes once per Idempotency-Key: a repeat gets the first answer. */
  const once = (route: string, exchange: Exchange, body: unknown, write: (eventId: string) => Promise<void>): Promise<RouteResult> => {
    const key = idempotencyKey(exchange.idempotencyKey);
    if (key !== null) return keys.run(key, requestFingerprint(route, body), write).then(accepted);
    const eventId = newEventId();
    return write(eventId).then(() => accepted(eventId));
  };
  return [
    defineRoute<EventPayload>({
      method: 'POST',
      paths: ['/event/payload'],
      name: 'event_payload',
      summary: 'Record an agent event (START / END / PROBS / HEARTBEAT); END sends a KakaoTalk memo',
      tags: ['events'],
      body: { schema: EventPayload },
      responses: { 200: { description: 'Written to the event log', schema: EventAccepted }, ...writeFailures },
      handler: ({ body, exchange }) =>
        once('event_payload', exchange, body, async (eventId) =>
          events.append(recordFromPayload(body, Date.now() / 1000, eventId), { alert: body.type === 'END' })),
    }),
    defineRoute<StructuredEvent>({
      method: 'POST',
      paths: ['/event/', '/event'],
      name: 'event_structured',
      summary: 'Record an event in the structured form (no alert)',
      tags: ['events'],
      body: { schema: StructuredEvent },
      responses: { 200: { description: 'Written to the event log', schema: EventAccepted }, ...writeFailures },
      handler: ({ body, exchange }) =>
        once('event_structured', exchange, body, async (eventId) => events.append(recordFromStructured(body.event, eventId))),
    }),
    defineRoute<undefined, { limit: number }>({
      method: 'GET',
      paths: ['/event/recent'],
      name: 'event_recent',
      summary: 'The last `limit` events, oldest first',
      tags: ['events'],
      query: RecentQuery,
      responses: {
        200: { description: 'Event records', schema: Type.Array(EventRecordSchema) },
        422: { description: 'limit is not an integer', schema: HTTPValidationError },
      },
      handler: ({ query }) => ({ raw: events.recentJson(query.limit) }),
    }),
  ];
}
