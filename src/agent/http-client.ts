/**
 * The agent's JSON client: node:http(s) over a keep-alive pool, so each camera reuses its own
 * connection as a real agent would. Chosen over fetch because, as a load generator, the agent
 * must spend as little CPU per request as it can (fetch's web streams cost several times more)
 * and because the pool's size is explicit. The tests use it too, for the same fixed pool.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';

const REQUEST_TIMEOUT_MS = 10_000;

export interface JsonResponse {
  status: number;
  /** The body parsed as JSON; undefined when it is not JSON. `any`: the caller knows the route's shape. */
  json: any;
  /** The body as received. */
  text: string;
  headers: IncomingHttpHeaders;
}

export class JsonClient {
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;

  constructor(private readonly baseUrl: string, maxSockets: number) {
    const secure = baseUrl.startsWith('https:');
    this.transport = secure ? https : http;
    this.agent = new this.transport.Agent({ keepAlive: true, maxSockets });
  }

  get(path: string, headers: Record<string, string> = {}): Promise<JsonResponse> {
    return this.request('GET', path, undefined, headers);
  }

  /** POSTs `body` as JSON; a string is sent as it is (a malformed body, an empty one). */
  post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
    return this.request('POST', path, typeof body === 'string' ? body : JSON.stringify(body), headers);
  }

  close(): void {
    this.agent.destroy();
  }

  private request(method: string, path: string, body: string | undefined, extra: Record<string, string>): Promise<JsonResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { accept: 'application/json' };
      if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      Object.assign(headers, extra);
      const req = this.transport.request(new URL(path, this.baseUrl), { method, agent: this.agent, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            /* not JSON: `text` has it */
          }
          resolve({ status: res.statusCode ?? 0, json, text, headers: res.headers });
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
  const detail: unknown = response.json?.detail;
  const text = typeof detail === 'string' ? detail : response.text;
  return `${response.status} ${text.length > 160 ? `${text.slice(0, 160)}…` : text}`;
}
