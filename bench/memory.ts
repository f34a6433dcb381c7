/**
 * Whether the server's memory comes back: the heaviest load several times over, with a rest after
 * each round. RSS that settles at the same level round after round is a high-water mark (V8 heaps,
 * onnxruntime's arena), not a leak; RSS that climbs every round is a leak.
 */
import { setTimeout as pause } from 'node:timers/promises';
import { runLoad, type LoadSpec } from './load.js';
import { rssMiB, sampleRss, type QuietGate } from './proc-stats.js';
import type { ServerProcess } from './server-process.js';

export interface MemoryRound {
  rps: number;
  peakMiB: number;
  endMiB: number;
  afterRestMiB: number;
  /** The main thread's V8 heap in use after the rest (from /metrics), to tell JS from native memory. */
  mainHeapUsedMiB: number;
}

export interface MemorySoak {
  name: string;
  connections: number;
  restMiB: number;
  rounds: MemoryRound[];
}

export async function memorySoak(
  name: string,
  server: ServerProcess,
  request: Pick<LoadSpec, 'method' | 'path' | 'bodies'>,
  options: { connections: number; durationSec: number; restSec: number; rounds: number },
  quiet: QuietGate,
  log: (line: string) => void,
): Promise<MemorySoak> {
  await pause(1000);
  const restMiB = rssMiB(server.pid);
  const rounds: MemoryRound[] = [];
  for (let i = 0; i < options.rounds; i++) {
    await quiet.wait();
    const rss = sampleRss(server.pid);
    const load = await runLoad({ url: server.url, connections: options.connections, durationSec: options.durationSec, ...request });
    const peakMiB = rss.stop();
    const endMiB = rssMiB(server.pid);
    await pause(options.restSec * 1000);
    const heap = (await server.metrics()).get('nodejs_heap_size_used_bytes') ?? NaN;
    const round = { rps: load.rps, peakMiB, endMiB, afterRestMiB: rssMiB(server.pid), mainHeapUsedMiB: heap / 2 ** 20 };
    rounds.push(round);
    log(`  ${name} memory round ${i + 1}: ${Math.round(load.rps)} req/s, RSS peak ${Math.round(peakMiB)} MiB, ` +
      `end ${Math.round(endMiB)} MiB, after ${options.restSec} s rest ${Math.round(round.afterRestMiB)} MiB (main heap ${Math.round(round.mainHeapUsedMiB)} MiB)`);
  }
  return { name, connections: options.connections, restMiB, rounds };
}
