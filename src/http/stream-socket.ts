/**
 * GET /behavior/stream: the WebSocket endpoint. Binds uWebSockets.js sockets to the stream hub;
 * everything else about streams lives in src/streams/.
 */
import uWS, { type TemplatedApp, type WebSocket } from 'uWebSockets.js';
import type { StreamConfig } from '../config.js';
import type { StreamConnection, StreamHub } from '../streams/stream-hub.js';
import { framingProblem, refuseFraming } from './framing.js';
import { JSON_TYPE, writeResponse, type CorsPolicy } from './reply.js';

export const STREAM_PATH = '/behavior/stream';

const UPGRADE_REQUIRED = JSON.stringify({ detail: 'Upgrade Required: open a WebSocket on this path' });
const FORBIDDEN_ORIGIN = JSON.stringify({ detail: 'this Origin is not in BACKEND_CORS_ORIGINS' });

interface SocketState {
  connection?: StreamConnection;
  closed: boolean;
}

/** `cors` decides which web pages may open a stream; a client without an Origin (an agent) always may. */
export function mountStreamSocket(app: TemplatedApp, hub: StreamHub, config: StreamConfig, cors: CorsPolicy): void {
  app.ws<SocketState>(STREAM_PATH, {
    compression: uWS.DISABLED,
    maxPayloadLength: config.maxMessageBytes,
    idleTimeout: config.idleTimeoutSec,
    // The hub drops analyses itself past maxBackpressureBytes; uWS's own limit sits above it
    // so that control replies still get through.
    maxBackpressure: config.maxBackpressureBytes * 2,
    // No automatic pings: a socket that sends nothing for idleTimeout is closed, freeing its streams.
    sendPingsAutomatically: false,
    upgrade: (res, req, context) => {
      const problem = framingProblem(req);
      if (problem) return refuseFraming(res, problem);
      const origin = req.getHeader('origin');
      if (origin && cors.needsOrigin && !cors.allowOrigin(origin)) return writeResponse(res, 403, JSON_TYPE, FORBIDDEN_ORIGIN, null);
      res.upgrade<SocketState>(
        { closed: false },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    // Each callback is guarded: an exception thrown out of a uWS callback would end the process.
    open: guarded(hub, (ws) => {
      const state = ws.getUserData();
      state.connection = hub.connect(peerOf(ws, state));
    }),
    message: guarded(hub, (ws, message: ArrayBuffer, isBinary: boolean) => ws.getUserData().connection?.onMessage(message, isBinary)),
    close: guarded(hub, (ws) => {
      const state = ws.getUserData();
      state.closed = true;
      state.connection?.onClose();
    }),
  });
  // app.ws() takes only upgrade requests; a plain GET lands here (before the server's catch-all 404).
  app.get(STREAM_PATH, (res, req) => {
    const problem = framingProblem(req);
    if (problem) return refuseFraming(res, problem);
    writeResponse(res, 426, JSON_TYPE, UPGRADE_REQUIRED, null, { Upgrade: 'websocket', Connection: 'Upgrade' });
  });
}

function peerOf(ws: WebSocket<SocketState>, state: SocketState) {
  return {
    address: Buffer.from(ws.getRemoteAddressAsText()).toString(),
    // Results arrive from worker threads, outside any uWS callback: cork each send.
    send: (text: string): boolean => {
      if (state.closed) return false;
      let status = 0;
      ws.cork(() => (status = ws.send(text, false)));
      return status !== 2;
    },
    bufferedBytes: (): number => (state.closed ? 0 : ws.getBufferedAmount()),
    end: (code: number, reason: string): void => {
      if (!state.closed) ws.end(code, reason);
    },
  };
}

function guarded<A extends unknown[]>(hub: StreamHub, callback: (ws: WebSocket<SocketState>, ...args: A) => void) {
  return (ws: WebSocket<SocketState>, ...args: A): void => {
    try {
      callback(ws, ...args);
    } catch (err) {
      hub.deps.logger.error({ err }, 'stream socket callback failed');
    }
  };
}
