/** The WebSocket endpoint's entry in /openapi.json: OpenAPI has no WebSocket operations, so the
 * protocol is described in words and its message schemas are published as components. */
import { StreamAnalysis, StreamClose, StreamClosed, StreamErrorNotice, StreamEventNotice, StreamFrame, StreamOpen, StreamOpened } from '../contracts/stream.js';
import type { OpenApiExtra } from './openapi.js';
import { STREAM_PATH } from './stream-socket.js';

const DESCRIPTION = `Upgrade to a WebSocket and stream frames; the server keeps each stream's last window and answers with an analysis every \`stride\` frames.

**Agent → server** (text frames, JSON): \`StreamOpen\` (optional: a frame for an unknown stream_id opens it with the defaults), \`StreamFrame\` (features or keypoints), \`StreamClose\`.
A frame may also be binary, little-endian: u8 version (1), u8 kind (1 = features, 2 = keypoints), u16 stream id length L, u32 frame index (0xFFFFFFFF = none), f64 unix seconds (NaN = arrival time), L bytes UTF-8 stream id zero-padded to a multiple of 4, then the float32 values (169 features, or 33 × 4 keypoint values with NaN for missing).

**Server → agent** (JSON): \`StreamOpened\`, \`StreamAnalysis\` (the /behavior/analyze fields plus stream_id, the newest frame's index, latency and drops), \`StreamEventNotice\` (server-side START/END/PROBS, written to the event log like POST /event/payload; END sends the Kakao memo), \`StreamErrorNotice\` (a bad message: the stream goes on), \`StreamClosed\`.

Limits: BACKEND_STREAM_MAX_PER_SOCKET, BACKEND_STREAM_MAX_TOTAL, BACKEND_WS_MAX_MESSAGE_BYTES (a larger message closes the socket), BACKEND_WS_IDLE_TIMEOUT_SEC; a consumer that does not read gets analyses dropped (counted in the next one's \`dropped\`) past BACKEND_WS_MAX_BACKPRESSURE_BYTES.`;

export function streamDocs(): OpenApiExtra {
  return {
    paths: {
      [STREAM_PATH]: {
        get: {
          summary: 'WebSocket: stream frames, receive analyses and events',
          operationId: 'behavior_stream',
          tags: ['behavior'],
          description: DESCRIPTION,
          responses: { 101: { description: 'Switching Protocols: the WebSocket is open' } },
        },
      },
    },
    schemas: [StreamOpen, StreamFrame, StreamClose, StreamOpened, StreamAnalysis, StreamEventNotice, StreamErrorNotice, StreamClosed],
  };
}
