/** Seeded feature windows and request bodies for tests that need many distinct inputs. */
import type { AnalyzeRequest } from '../../src/contracts/api.js';
import { Rng } from '../../src/features/synthetic-pose/rng.js';
import { analyzeRequest } from '../../src/inference/analysis.js';

/** frames × dim features in [-2, 2), seeded. */
export function randomFrames(seed: number, frames: number, dim: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: frames }, () => Array.from({ length: dim }, () => rng.uniform(-2, 2)));
}

/** The agents' request body for these frames (each value stored as float32, as the server reads it). */
export function analyzeBody(frames: number[][]): AnalyzeRequest {
  return analyzeRequest(Float32Array.from(frames.flat()), frames.length, frames[0]?.length ?? 0);
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

/** Through fetch, for tests that read the reply's headers as a browser would (Headers.get). */
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
