/**
 * One target (the server or a baseline server) under load at each connection count: warm-up, then
 * the measured run, with the target's CPU and memory and, for the real server, its own /metrics
 * figures and the check that every acknowledged event is in the store.
 */
import { setTimeout as pause } from 'node:timers/promises';
import { runLoad, type LoadResult, type LoadSpec } from './load.js';
import { commandCpuSeconds, cpuBetween, cpuSnapshot, machineBusySeconds, rssMiB, sampleRss, type CpuUse, type QuietGate } from './proc-stats.js';
import { figuresBetween, type ServerFigures } from './server-figures.js';
import type { ServerProcess } from './server-process.js';
import type { StoredEvents } from './stored-events.js';

/** The NATS server's program name, to count its CPU when it runs on this machine. */
const NATS_SERVER_COMMAND = 'nats-server';

export interface RunSettings {
  connections: readonly number[];
  durationSec: number;
  warmupSec: number;
  /** Seconds of rest after the heaviest load before memory is read again. */
  restSec: number;
}

export interface EventCheck {
  /** Records the store gained during the measured run (log lines, or stream messages). */
  recordsStored: number;
  acknowledged: number;
  /** Acknowledged events missing from the store (must be 0). */
  lost: number;
}

export interface LevelResult {
  load: LoadResult;
  targetCpu: CpuUse;
  /** CPU used by everything but the target, the load generator and the NATS server (other processes), % of one core. */
  otherCpuPct: number;
  /** CPU of the nats-server processes on this machine, % of one core (scenarios with the NATS store). */
  natsCpuPct?: number;
  rssPeakMiB: number;
  rssEndMiB: number;
  figures?: ServerFigures;
  events?: EventCheck;
}

export interface MemoryProfile {
  restMiB: number;
  /** Under the largest connection count. */
  peakMiB: number;
  endMiB: number;
  afterRestMiB: number;
}

export interface TargetResult {
  name: string;
  levels: LevelResult[];
  memory: MemoryProfile;
}

export interface TargetLoad {
  name: string;
  server: ServerProcess;
  request: Pick<LoadSpec, 'method' | 'path' | 'bodies'>;
  /**
   * The route name in the server's /metrics, to read its figures around each run; absent for
   * baselines (no /metrics) and for several processes on one port (each scrape reaches any one).
   */
  route?: string;
  /** Where the event scenarios' records land, to check: runs go by request count instead of duration. */
  events?: StoredEvents;
  /** The NATS store is in use: the local nats-server's CPU is counted apart from "others". */
  nats?: boolean;
}

export async function measureTarget(target: TargetLoad, settings: RunSettings, quiet: QuietGate, log: (line: string) => void): Promise<TargetResult> {
  const { server } = target;
  await pause(1000);
  const restMiB = rssMiB(server.pid);
  let storeMark = 0;
  const levels: LevelResult[] = [];
  for (const connections of settings.connections) {
    const base = { url: server.url, connections, ...target.request };
    let measured: Pick<LoadSpec, 'durationSec' | 'amount'> = { durationSec: settings.durationSec };
    const waited = await quiet.wait();
    if (waited >= 1) log(`  (waited ${Math.round(waited)} s for other processes to quieten)`);
    const warm = await runLoad({ ...base, durationSec: settings.warmupSec });
    if (target.events) {
      // requests cut off at the end of the warm-up may still be stored: wait for the store to settle
      storeMark = await target.events.settle();
      // then run to a request count, so that every request sent is answered before the log is counted
      measured = { amount: Math.max(connections, Math.round(warm.rps * settings.durationSec)) };
    }
    const before = target.route ? await server.metrics() : null;
    const cpu0 = cpuSnapshot(server.pid);
    const nats0 = target.nats ? commandCpuSeconds(NATS_SERVER_COMMAND) : 0;
    const busy0 = machineBusySeconds();
    const rss = sampleRss(server.pid);
    const load = await runLoad({ ...base, ...measured });
    const cpu1 = cpuSnapshot(server.pid);
    const targetCpu = cpuBetween(cpu0, cpu1);
    const wallSec = (cpu1.at - cpu0.at) / 1000;
    const machinePct = (100 * (machineBusySeconds() - busy0)) / wallSec;
    const natsCpuPct = target.nats ? (100 * (commandCpuSeconds(NATS_SERVER_COMMAND) - nats0)) / wallSec : undefined;
    const otherCpuPct = Math.max(0, machinePct - targetCpu.processPct - load.loadGenCpuPct - (natsCpuPct ?? 0));
    const level: LevelResult = { load, targetCpu, otherCpuPct, ...(natsCpuPct === undefined ? {} : { natsCpuPct }), rssPeakMiB: rss.stop(), rssEndMiB: rssMiB(server.pid) };
    if (before && target.route) level.figures = figuresBetween(before, await server.metrics(), target.route);
    if (target.events) {
      const stored = await target.events.countSince(storeMark);
      level.events = { recordsStored: stored, acknowledged: load.ok2xx, lost: Math.max(0, load.ok2xx - stored) };
    }
    levels.push(level);
    log(`  ${target.name} c=${connections}: ${Math.round(load.rps)} req/s, p99 ${load.p99Ms?.toFixed(2) ?? '–'} ms, ` +
      `errors ${load.errors}, non-2xx ${load.non2xx}, CPU: target ${Math.round(targetCpu.processPct)}%, ` +
      `load generator ${Math.round(load.loadGenCpuPct)}%, ${natsCpuPct === undefined ? '' : `NATS ${Math.round(natsCpuPct)}%, `}others ${Math.round(otherCpuPct)}%` +
      (level.events ? `, store +${level.events.recordsStored} records for ${level.events.acknowledged} acknowledged` : ''));
  }
  const last = levels[levels.length - 1];
  if (!last) throw new Error('no connection counts to measure');
  await pause(settings.restSec * 1000);
  return { name: target.name, levels, memory: { restMiB, peakMiB: last.rssPeakMiB, endMiB: last.rssEndMiB, afterRestMiB: rssMiB(server.pid) } };
}
