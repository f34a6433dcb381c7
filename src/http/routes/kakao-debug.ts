import { HTTPValidationError, KakaoDebugResponse, SendTestRequest } from '../../contracts/api.js';
import type { EventLog } from '../../events/event-log.js';
import { defineRoute, type RouteSpec } from '../route.js';

const DEFAULT_TEST_TEXT = 'Kakao memo test from backend /debug/kakao/send-test';
const unauthorized = { 401: { description: 'BACKEND_ADMIN_TOKEN is set and the request does not carry it' } };

/** Served at /debug/kakao/* and at /event/debug/kakao/*, where the seed's router put them. */
export function kakaoDebugRoutes(events: EventLog): RouteSpec<any, any>[] {
  return [
    defineRoute({
      method: 'GET',
      paths: ['/debug/kakao/token-check', '/event/debug/kakao/token-check'],
      name: 'kakao_token_check',
      summary: 'Check the Kakao access token (who it belongs to, its remaining life, the refresh token\'s state)',
      tags: ['kakao'],
      admin: true,
      responses: { 200: { description: '{ok: true, response} or {ok: false, err}', schema: KakaoDebugResponse }, ...unauthorized },
      handler: async () => ({ json: await events.kakaoTokenCheck() }),
    }),
    defineRoute<{ text?: string | null } | undefined>({
      method: 'POST',
      paths: ['/debug/kakao/send-test', '/event/debug/kakao/send-test'],
      name: 'kakao_send_test',
      summary: 'Send a test memo to the Kakao account on watch',
      tags: ['kakao'],
      admin: true,
      body: { schema: SendTestRequest, optional: true },
      responses: {
        200: { description: '{ok: result_code == 0, response} or {ok: false, err}', schema: KakaoDebugResponse },
        422: { description: 'Body is not JSON or text is not a string', schema: HTTPValidationError },
        ...unauthorized,
      },
      handler: async ({ body }) => ({ json: await events.kakaoSendTest(body?.text ?? DEFAULT_TEST_TEXT) }),
    }),
  ];
}
