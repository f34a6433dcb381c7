/**
 * GET /behavior/stream: the WebSocket endpoint. Binds uWebSockets.js sockets to the stream hub;
 * everything else about streams lives in src/streams/.
 */
import uWS, { type TemplatedApp, type WebSocket } from 'uWebSockets.js';
import type { StreamConfig } from '../config.js';
import type { StreamConnection, StreamHub } from '../streams/stream-hub.js';

export const STREAM_PATH = '/behavior/stream';

interface SocketState {
  connection?: StreamConnection;
  closed: boolean;
}

export function mountStreamSocket(app: TemplatedApp, hub: StreamHub, config: StreamConfig): void {
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
