import { ErrorMessage, EventAccepted, EventPayload, EventRecordSchema, HTTPValidationError, RecentQuery, StructuredEvent } from '../../contracts/api.js';
import type { EventLog } from '../../events/event-log.js';
import { recordFromPayload, recordFromStructured, type EventRecord } from '../../events/records.js';
import { Type } from '@sinclair/typebox';
import { defineRoute, type RouteSpec } from '../route.js';

const accepted = (record: EventRecord) => ({ raw: `{"success":true,"event_id":"${record.event_id}"}` });

const writeFailures = {
  422: { description: 'Not JSON, schema errors (list), or a probs list that does not match events (message)', schema: HTTPValidationError },
  503: { description: 'The event log cannot be written, or its backlog is full (Retry-After)', schema: ErrorMessage },
};

export function eventRoutes(events: EventLog): RouteSpec<any, any>[] {
  return [
    defineRoute<EventPayload>({
      method: 'POST',
      paths: ['/event/payload'],
      name: 'event_payload',
      summary: 'Record an agent event (START / END / PROBS / HEARTBEAT); END sends a KakaoTalk memo',
      tags: ['events'],
      body: { schema: EventPayload },
      responses: { 200: { description: 'Written to the event log', schema: EventAccepted }, ...writeFailures },
      async handler({ body }) {
        const record = recordFromPayload(body, Date.now() / 1000);
        await events.append(record, { alert: body.type === 'END' });
        return accepted(record);
      },
    }),
    defineRoute<StructuredEvent>({
      method: 'POST',
      paths: ['/event/', '/event'],
      name: 'event_structured',
      summary: 'Record an event in the structured form (no alert)',
      tags: ['events'],
      body: { schema: StructuredEvent },
      responses: { 200: { description: 'Written to the event log', schema: EventAccepted }, ...writeFailures },
      async handler({ body }) {
        const record = recordFromStructured(body.event);
        await events.append(record);
        return accepted(record);
      },
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
