/**
 * The streaming path: the cameras' streams over GET /behavior/stream, one socket per camera or
 * up to 16 cameras sharing one. Events are on, so the server writes START/END itself and pushes
 * them back; the agent only counts and shows them.
 */
import WebSocket from 'ws';
import { DEFAULT_STREAMS_PER_SOCKET } from '../common/defaults.js';
import type { CameraFrame } from './camera.js';
import { streamUrl } from './options.js';
import { waitUntil, type AgentContext, type ModeRunner } from './mode.js';
import { CONNECT_TIMEOUT_MS, WsCameraStream, type ServerMessage } from './ws-camera-stream.js';

/** Past this many unsent bytes on a socket, frames are skipped rather than buffered. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

class StreamSocket {
  private readonly socket: WebSocket;
  private readonly streams = new Map<string, WsCameraStream>();
  readonly connected: Promise<void>;
  private ended = false;

  constructor(url: string, context: AgentContext, cameras: number[]) {
    this.socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: CONNECT_TIMEOUT_MS });
    this.socket.binaryType = 'arraybuffer';
    for (const camera of cameras) {
      const stats = context.stats[camera]!;
      this.streams.set(stats.name, new WsCameraStream(context, stats, (data) => this.transmit(data)));
    }
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', (err) => reject(new Error(`cannot open ${url}: ${err.message}`)));
    });
    this.connected.catch(() => {});
    this.socket.on('close', (code, reason) => {
      this.ended = true;
      for (const stream of this.streams.values()) stream.disconnected(`socket closed (${code} ${reason.toString() || 'no reason'})`);
    });
    this.socket.on('error', () => {}); // the close that follows reports it
    this.socket.on('message', (data, isBinary) => {
      let message: ServerMessage;
      try {
        message = JSON.parse(data.toString()) as ServerMessage;
      } catch {
        return context.notify(`server sent a message that is not JSON (${isBinary ? 'binary' : 'text'})`);
      }
      const stream = message.stream_id === undefined ? undefined : this.streams.get(message.stream_id);
      if (stream) stream.onMessage(message);
      else context.notify(`server: ${JSON.stringify(message)}`);
    });
  }

  stream(name: string): WsCameraStream {
    return this.streams.get(name)!;
  }

  get all(): WsCameraStream[] {
    return [...this.streams.values()];
  }

  async open(): Promise<void> {
    await this.connected;
    await Promise.all(this.all.map((s) => s.open()));
  }

  /** Leaves the socket open after the streams' close, until every END the server writes on close has come back. */
  async close(deadline: number): Promise<void> {
    for (const stream of this.all) if (stream.opened && !stream.closed) stream.close();
    await waitUntil(() => this.all.every((s) => s.closed && s.stats.active.size === 0), deadline);
    this.socket.close(1000, 'done');
    await waitUntil(() => this.ended, deadline + 1000);
    this.socket.terminate();
  }

  /** Drops the connection at once (a failed start). */
  abort(): void {
    this.socket.terminate();
  }

  private transmit(data: string | ArrayBuffer): boolean {
    if (this.socket.readyState !== WebSocket.OPEN || this.socket.bufferedAmount > MAX_BUFFERED_BYTES) return false;
    this.socket.send(data);
    return true;
  }
}

export class WsMode implements ModeRunner {
  private readonly sockets: StreamSocket[] = [];
  private readonly byCamera: WsCameraStream[] = [];

  constructor(private readonly context: AgentContext) {
    const { cameras, sockets, url } = context.options;
    // A shared socket carries as many cameras as the server's default BACKEND_STREAM_MAX_PER_SOCKET allows.
    const perSocket = sockets === 'shared' ? DEFAULT_STREAMS_PER_SOCKET : 1;
    for (let first = 0; first < cameras; first += perSocket) {
      const group = Array.from({ length: Math.min(perSocket, cameras - first) }, (_, i) => first + i);
      const socket = new StreamSocket(streamUrl(url), context, group);
      this.sockets.push(socket);
      for (const camera of group) this.byCamera[camera] = socket.stream(context.stats[camera]!.name);
    }
  }

  async start(): Promise<void> {
    try {
      await Promise.all(this.sockets.map((s) => s.open()));
    } catch (err) {
      for (const socket of this.sockets) socket.abort();
      throw err;
    }
  }

  send(camera: number, frame: CameraFrame): void {
    const stream = this.byCamera[camera]!;
    if (stream.closed || !stream.send(frame)) stream.stats.framesSkipped++;
  }

  /** Waits for every due analysis, then closes the streams (the server ENDs their active events) and the sockets. */
  async finish(deadline: number): Promise<void> {
    await waitUntil(() => this.byCamera.every((s) => s.closed || s.stats.settled), deadline);
    await Promise.all(this.sockets.map((s) => s.close(deadline)));
  }
}
