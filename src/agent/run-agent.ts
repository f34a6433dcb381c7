/**
 * One run of the demo agent: wait for the server to be ready, start the cameras, stream for the
 * duration (or until aborted), drain, and sum up. The CLI, the benchmarks and the tests call this.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SimulatedCamera } from './camera.js';
import { CameraStats } from './camera-stats.js';
import { LiveDisplay } from './display.js';
import { JsonClient } from './http-client.js';
import { HttpMode } from './http-mode.js';
import type { AgentContext, ModeRunner, ServedModel } from './mode.js';
import { resolveOptions, type AgentOptions } from './options.js';
import { buildSummary, type AgentSummary } from './summary.js';
import { WsMode } from './ws-mode.js';

const READY_WAIT_MS = 15_000;
/** Once the cameras stop, how long the last analyses and events may take. */
const DRAIN_MS = 5000;

/** The server could not be used (unreachable, never ready, refused the streams). */
export class AgentStartError extends Error {}

/** Runs the agent; resolves with the summary once the run is over and drained. */
export async function runAgent(given: Partial<AgentOptions>): Promise<AgentSummary> {
  const options = resolveOptions(given);
  const stats = Array.from({ length: options.cameras }, (_, i) => new CameraStats(`cam-${i + 1}`));
  // Each camera has at most one analysis and one event post open at a time.
  const client = new JsonClient(options.url, options.cameras * 2 + 1);
  let startedAt = 0;
  const display = options.quiet ? null : new LiveDisplay(process.stdout, stats, () => heading(options, startedAt));
  try {
    const context: AgentContext = { options, stats, client, model: await waitForReady(client, options), notify: (line) => display?.event(line) };
    const runner: ModeRunner = options.mode === 'ws' ? new WsMode(context) : new HttpMode(context);
    try {
      await runner.start();
    } catch (err) {
      throw new AgentStartError((err as Error).message);
    }
    const cameras = stats.map(
      (s, i) => new SimulatedCamera(s.name, { seed: options.seed + i, fps: options.fps, duration: options.duration, eventEvery: options.eventEvery, script: options.script, phaseMs: (1000 / options.fps) * (i / options.cameras) }),
    );
    startedAt = performance.now();
    display?.start();
    cameras.forEach((camera, i) =>
      camera.start((frame) => {
        stats[i]!.activity = frame.activity;
        runner.send(i, frame);
      }),
    );
    await endOfRun(options);
    const seconds = (performance.now() - startedAt) / 1000;
    cameras.forEach((camera, i) => {
      camera.stop();
      stats[i]!.framesSkipped += camera.skipped;
    });
    await runner.finish(performance.now() + DRAIN_MS);
    return buildSummary(options, stats, seconds);
  } finally {
    display?.stop();
    client.close();
  }
}

/** Resolves after the duration, or when the signal aborts. */
function endOfRun(options: AgentOptions): Promise<void> {
  return new Promise((resolve) => {
    const timer = options.duration > 0 ? setTimeout(done, options.duration * 1000) : undefined;
    function done() {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', done);
      resolve();
    }
    if (options.signal?.aborted) return done();
    options.signal?.addEventListener('abort', done);
  });
}

/** GET /ready until the server answers ready (or the run is stopped); its model's window. */
async function waitForReady(client: JsonClient, { url, signal }: AgentOptions): Promise<ServedModel> {
  const deadline = performance.now() + READY_WAIT_MS;
  for (;;) {
    if (signal?.aborted) throw new AgentStartError(`stopped while waiting for the server at ${url} to be ready`);
    let last: string;
    try {
      const response = await client.get('/ready');
      const body = response.json as { reasons?: string[]; model?: { window_size: number } } | undefined;
      if (response.status === 200 && body?.model) return { windowSize: body.model.window_size };
      last = `not ready: ${(body?.reasons ?? [response.text]).join('; ')}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (performance.now() >= deadline) throw new AgentStartError(`the server at ${url} is not ready after ${READY_WAIT_MS / 1000} s (${last}); is it running (npm start)?`);
    await sleep(500, undefined, { signal }).catch(() => {}); // an abort ends the pause early
  }
}

function heading(options: AgentOptions, startedAt: number): string {
  const elapsed = startedAt ? ((performance.now() - startedAt) / 1000).toFixed(1) : '0.0';
  const of = options.duration > 0 ? ` / ${options.duration} s` : ' s (Ctrl-C to stop)';
  const how = options.mode === 'ws' ? `ws ${options.input}${options.binary ? ' binary' : ''}` : 'http';
  return `${how} · ${options.cameras} cameras at ${options.fps} fps · stride ${options.stride} · ${elapsed}${of} · ${options.url}`;
}
