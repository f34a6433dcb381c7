/**
 * What the agent's two ways of talking to the server (http-mode, ws-mode) share: the context they
 * run in and the three calls the run makes on them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CameraFrame } from './camera.js';
import type { CameraStats } from './camera-stats.js';
import type { JsonClient } from './http-client.js';
import type { AgentOptions } from './options.js';

/** The server's model, as GET /ready describes it. */
export interface ServedModel {
  /** Frames per window; 0 when the model takes any length. */
  windowSize: number;
}

export interface AgentContext {
  options: AgentOptions;
  /** One per camera, in camera order. */
  stats: readonly CameraStats[];
  client: JsonClient;
  model: ServedModel;
  /** Shows a line under the live display (an event, a problem). */
  notify(line: string): void;
}

export interface ModeRunner {
  /** Connects and opens what the cameras need; resolves when frames may flow. */
  start(): Promise<void>;
  send(camera: number, frame: CameraFrame): void;
  /** The cameras have stopped: waits for the last analyses and events (until `deadline`, a performance.now() time), then closes. */
  finish(deadline: number): Promise<void>;
}


/** Resolves once `done()` holds or at `deadline`, checking every few milliseconds. */
export async function waitUntil(done: () => boolean, deadline: number): Promise<boolean> {
  while (!done()) {
    if (performance.now() >= deadline) return false;
    await sleep(10);
  }
  return true;
}

/** An event as one line: "cam-3 START fall 0.99". */
export function eventLine(camera: string, payload: { type?: unknown; event?: unknown; prob?: unknown; duration_sec?: unknown; state?: unknown }): string {
  const parts = [camera, String(payload.type), payload.event ?? ''];
  if (typeof payload.prob === 'number') parts.push(payload.prob.toFixed(2));
  if (typeof payload.duration_sec === 'number') parts.push(`${payload.duration_sec.toFixed(1)} s`);
  if (typeof payload.state === 'string') parts.push(`(${payload.state})`);
  return parts.filter((p) => p !== '').join(' ');
}
