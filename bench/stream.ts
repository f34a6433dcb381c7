/**
 * The streaming benchmark: the demo agent, in this process, is the load generator against one
 * built server. Each stream mode runs at rising camera counts until it stops keeping up (fewer
 * than 99 % of the due analyses answered) or the agent cannot offer the load (fewer than 95 % of
 * the nominal frames sent). CPU and the server's /metrics are read over the steady
 * middle of each run, away from the streams opening and draining.
 */
import { setTimeout as pause } from 'node:timers/promises';
import { runAgent } from '../src/agent/run-agent.js';
import type { AgentSummary } from '../src/agent/summary.js';
import { cpuBetween, cpuSnapshot, machineBusySeconds, type CpuSnapshot, type CpuUse, type QuietGate } from './proc-stats.js';
import type { StreamMode } from './scenarios.js';
import { figuresBetween, total, type Scrape, type ServerFigures } from './server-figures.js';
import type { ServerProcess } from './server-process.js';

export interface StreamSettings {
  cameras: readonly number[];
  fps: number;
  stride: number;
  durationSec: number;
  warmupSec: number;
  /** A mode stops rising once answered ÷ expected falls below this… */
  minAnsweredShare: number;
  /** …or once the agent sends fewer than this share of the nominal frames: past it, the load generator is what is measured. */
  minSentShare: number;
}

/** The server's stream counters over the measurement window (ws modes; zero for http). */
export interface StreamCounters {
  framesReceived: number;
  analysesSent: number;
  analysesDropped: number;
  analysisErrors: number;
  messageErrors: number;
}

export interface StreamLevel {
  cameras: number;
  /** Seconds the cameras streamed, and the rates over them (the agent's count). */
  seconds: number;
  framesPerSec: number;
  analysesPerSec: number;
  answeredShare: number;
  agent: AgentSummary['total'];
  /** The first few distinct problems the cameras reported. */
  problems: string[];
  /** The rest is read over this many seconds in the middle of the run. */
  windowSec: number;
  serverCpu: CpuUse;
  loadGenCpuPct: number;
  otherCpuPct: number;
  figures: ServerFigures;
  server: StreamCounters;
}

export interface StreamResult {
  name: string;
  description: string;
  levels: StreamLevel[];
  /** Why it stopped before the last camera count; null when it ran them all. */
  stoppedBecause: string | null;
}

export interface StreamRun {
  settings: StreamSettings;
  model: string;
  workers: number;
  modes: StreamResult[];
}

interface Reading {
  cpu: CpuSnapshot;
  loadGen: NodeJS.CpuUsage;
  busySec: number;
  scrape: Scrape;
}

async function read(server: ServerProcess): Promise<Reading> {
  const cpu = cpuSnapshot(server.pid);
  const loadGen = process.cpuUsage();
  const busySec = machineBusySeconds();
  return { cpu, loadGen, busySec, scrape: await server.metrics() };
}

/** Readings at `from` and `to` seconds after now. */
async function window(server: ServerProcess, from: number, to: number): Promise<[Reading, Reading]> {
  const start = performance.now();
  await pause(from * 1000);
  const first = await read(server);
  await pause(Math.max(0, start + to * 1000 - performance.now()));
  return [first, await read(server)];
}

function streamCounters(a: Scrape, b: Scrape): StreamCounters {
  const d = (name: string, labelPart = '') => total(b, name, labelPart) - total(a, name, labelPart);
  const sent = d('stream_analyses_total', 'outcome="sent"');
  const dropped = d('stream_analyses_total', 'outcome="dropped"');
  return {
    framesReceived: d('stream_frames_total'),
    analysesSent: sent,
    analysesDropped: dropped,
    analysisErrors: d('stream_analyses_total') - sent - dropped,
    messageErrors: d('stream_message_errors_total'),
  };
}

async function measureLevel(server: ServerProcess, mode: StreamMode, cameras: number, settings: StreamSettings): Promise<StreamLevel> {
  const agent = { ...mode.agent, url: server.url, cameras, fps: settings.fps, stride: settings.stride, sockets: 'per-camera', quiet: true } as const;
  await runAgent({ ...agent, duration: settings.warmupSec });
  // The cameras start a few milliseconds after the call (one GET /ready, the streams' open) and
  // run `durationSec` from there: a window from `lead` to `durationSec - lead` lies inside.
  const lead = Math.min(1, settings.durationSec / 4);
  const [summary, [a, b]] = await Promise.all([runAgent({ ...agent, duration: settings.durationSec }), window(server, lead, settings.durationSec - lead)]);
  const windowSec = (b.cpu.at - a.cpu.at) / 1000;
  const serverCpu = cpuBetween(a.cpu, b.cpu);
  const loadGenCpuPct = (100 * (b.loadGen.user - a.loadGen.user + b.loadGen.system - a.loadGen.system)) / 1e6 / windowSec;
  const machinePct = (100 * (b.busySec - a.busySec)) / windowSec;
  const { total: agentTotal, seconds } = summary;
  return {
    cameras,
    seconds,
    framesPerSec: agentTotal.framesSent / seconds,
    analysesPerSec: agentTotal.analysesAnswered / seconds,
    answeredShare: agentTotal.analysesExpected ? agentTotal.analysesAnswered / agentTotal.analysesExpected : 0,
    agent: agentTotal,
    problems: [...new Set(summary.perCamera.flatMap((c) => c.problems))].slice(0, 5),
    windowSec,
    serverCpu,
    loadGenCpuPct,
    otherCpuPct: Math.max(0, machinePct - serverCpu.processPct - loadGenCpuPct),
    figures: figuresBetween(a.scrape, b.scrape, 'behavior_analyze'),
    server: streamCounters(a.scrape, b.scrape),
  };
}

const pct = (n: number) => `${(100 * n).toFixed(1)}%`;

/** One mode at each camera count in turn, until a level falls below one of the bars (that level is kept). */
export async function measureStreamMode(server: ServerProcess, mode: StreamMode, settings: StreamSettings, quiet: QuietGate, log: (line: string) => void): Promise<StreamResult> {
  const result: StreamResult = { name: mode.name, description: mode.description, levels: [], stoppedBecause: null };
  for (const cameras of settings.cameras) {
    const waited = await quiet.wait();
    if (waited >= 1) log(`  (waited ${Math.round(waited)} s for other processes to quieten)`);
    let level: StreamLevel;
    try {
      level = await measureLevel(server, mode, cameras, settings);
    } catch (err) {
      result.stoppedBecause = `${cameras} cameras: ${(err as Error).message}`;
      log(`  ${mode.name} ${result.stoppedBecause}\n${server.recentLog()}`);
      break;
    }
    result.levels.push(level);
    const t = level.agent;
    log(`  ${mode.name} ${cameras} cameras: ${Math.round(level.framesPerSec)} frames/s (${t.framesSkipped} skipped), ` +
      `${Math.round(level.analysesPerSec)} analyses/s, answered ${t.analysesAnswered}/${t.analysesExpected} (${pct(level.answeredShare)}), ` +
      `dropped ${t.analysesDropped}, failed ${t.analysesFailed}, errors ${t.errors}, p99 ${t.latencyMs.p99 ?? '–'} ms, ` +
      `CPU: server ${Math.round(level.serverCpu.processPct)}%, load generator ${Math.round(level.loadGenCpuPct)}%, others ${Math.round(level.otherCpuPct)}%` +
      (level.problems.length ? `\n    problems: ${level.problems.join('; ')}` : ''));
    const sentShare = level.framesPerSec / (cameras * settings.fps);
    if (level.answeredShare < settings.minAnsweredShare) result.stoppedBecause = `${pct(level.answeredShare)} of the due analyses answered at ${cameras} cameras`;
    else if (sentShare < settings.minSentShare) result.stoppedBecause = `the agent sent ${pct(sentShare)} of the nominal frames at ${cameras} cameras (the load generator is saturated)`;
    if (result.stoppedBecause) break;
  }
  return result;
}
