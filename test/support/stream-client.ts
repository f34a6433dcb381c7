/** A WebSocket client for stream tests: collects every message and waits on conditions. */
import WebSocket from 'ws';

export class StreamClient {
  readonly messages: any[] = [];
  closeCode: number | null = null;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      this.messages.push(isBinary ? data : JSON.parse(String(data)));
      for (const wake of this.waiters.splice(0)) wake();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async connect(httpUrl: string): Promise<StreamClient> {
    const ws = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/behavior/stream`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new StreamClient(ws);
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' || message instanceof ArrayBuffer ? message : JSON.stringify(message));
  }

  of(type: string, streamId?: string): any[] {
    return this.messages.filter((m) => m.type === type && (streamId === undefined || m.stream_id === streamId));
  }

  /** Resolves once `predicate` holds (checked on every message), or rejects after `timeoutMs`. */
  async until(predicate: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  close(): void {
    this.ws.close();
  }
}
