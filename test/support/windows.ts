/** Seeded feature windows and request bodies for tests that need many distinct inputs. */

export function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** frames × dim features in [-2, 2), seeded. */
export function randomFrames(seed: number, frames: number, dim: number): number[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: frames }, () => Array.from({ length: dim }, () => (rand() - 0.5) * 4));
}

/** The agents' request body for these frames. */
export function analyzeBody(frames: number[][]): { frames: { index: number; features: number[] }[] } {
  return { frames: frames.map((features, index) => ({ index, features })) };
}

export interface JsonReply {
  status: number;
  json: any;
  headers: Headers;
}

/** The reply with its body parsed as JSON (or left as text when it is not JSON). */
async function reply(res: Response): Promise<JsonReply> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonReply> {
  return reply(await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  }));
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<JsonReply> {
  return reply(await fetch(url, { headers }));
}
