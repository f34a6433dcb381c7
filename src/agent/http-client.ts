/**
 * The agent's JSON client: node:http(s) over a keep-alive pool, so each camera reuses its own
 * connection as a real agent would. Chosen over fetch because, as a load generator, the agent
 * must spend as little CPU per request as it can (fetch's web streams cost several times more)
 * and because the pool's size is explicit.
 */
import http from 'node:http';
import https from 'node:https';

const REQUEST_TIMEOUT_MS = 10_000;

export interface JsonResponse {
  status: number;
  /** The parsed body, or the raw text when it is not JSON. */
  body: unknown;
}

export class JsonClient {
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;

  constructor(private readonly baseUrl: string, maxSockets: number) {
    const secure = baseUrl.startsWith('https:');
    this.transport = secure ? https : http;
    this.agent = new this.transport.Agent({ keepAlive: true, maxSockets });
  }

  get(path: string): Promise<JsonResponse> {
    return this.request('GET', path);
  }

  post(path: string, body: unknown): Promise<JsonResponse> {
    return this.request('POST', path, JSON.stringify(body));
  }

  close(): void {
    this.agent.destroy();
  }

  private request(method: string, path: string, body?: string): Promise<JsonResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { accept: 'application/json' };
      if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      const req = this.transport.request(new URL(path, this.baseUrl), { method, agent: this.agent, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* not JSON: keep the text for the error message */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${REQUEST_TIMEOUT_MS / 1000} s`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

/** A short description of a failed answer: its status and detail. */
export function describeFailure(response: JsonResponse): string {
  const detail = (response.body as { detail?: unknown } | null)?.detail;
  const text = typeof detail === 'string' ? detail : JSON.stringify(response.body);
  return `${response.status} ${text.length > 160 ? `${text.slice(0, 160)}…` : text}`;
}
