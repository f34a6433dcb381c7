/**
 * The benchmark's results: one JSON document per run, and the same figures as Markdown tables
 * (printed, and saved beside the JSON) with the ratios to the baselines and the targets.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CeilingPoint } from './baselines/ceiling.js';
import type { LevelResult, RunSettings, TargetResult } from './measure.js';
import type { MemorySoak } from './memory.js';
import type { machineInfo } from './proc-stats.js';
import type { StreamRun } from './stream.js';

export interface CeilingResult {
  scenario: string;
  model: string;
  workers: number;
  points: CeilingPoint[];
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: ReturnType<typeof machineInfo>;
  settings: RunSettings;
  /** BACKEND_* variables passed to every server, beyond the scenario's own. */
  serverEnv: Record<string, string>;
  /** workers: inference workers per process; processes: server processes on the port. */
  servers: (TargetResult & { model: string; workers: number; processes: number; store: 'file' | 'nats' })[];
  bareUws: TargetResult[];
  naive: TargetResult[];
  ceilings: CeilingResult[];
  memory: MemorySoak[];
  /** The streaming benchmark (the demo agent as load generator); null when not selected. */
  stream: StreamRun | null;
}

const f0 = (n: number | null | undefined) => (n === null || n === undefined || Number.isNaN(n) ? '–' : Math.round(n).toLocaleString('en-US'));
const f2 = (n: number | null | undefined) => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toFixed(n > 0 && n < 0.1 ? 3 : 2));
const pct = (n: number | null) => (n === null ? '–' : `${Math.round(n * 100)}%`);

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** CPU per response in µs, from a CPU % (of one core): a main thread's capacity follows from its share. */
const usPerRequest = (l: LevelResult, cpuPct: number) => (l.load.rps > 0 ? (10_000 * cpuPct) / l.load.rps : null);

function levelTable(levels: LevelResult[], withServer: boolean): string {
  const head = ['conns', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors', 'non-2xx', 'target CPU %', 'target µs / req', 'main thread %', 'main µs / req', 'loadgen CPU %', 'others CPU %'];
  if (withServer) head.push('mean batch', 'queue wait ms', 'run ms', 'server mean ms');
  const events = levels.some((l) => l.events);
  if (events) head.push('stored / 2xx', 'lines per write', 'write lag ms');
  const nats = levels.some((l) => l.natsCpuPct !== undefined);
  if (nats) head.push('NATS CPU %', 'NATS µs / req');
  return table(head, levels.map((l) => {
    const row = [String(l.load.connections), f0(l.load.rps), f2(l.load.p50Ms), f2(l.load.p99Ms), f2(l.load.p999Ms), String(l.load.errors),
      String(l.load.non2xx), f0(l.targetCpu.processPct), f0(usPerRequest(l, l.targetCpu.processPct)), f0(l.targetCpu.mainThreadPct), f0(usPerRequest(l, l.targetCpu.mainThreadPct)), f0(l.load.loadGenCpuPct), f0(l.otherCpuPct)];
    const s = l.figures;
    if (withServer) row.push(f2(s?.meanBatch), f2(s?.meanQueueWaitMs), f2(s?.meanRunMs), f2(s?.meanServerLatencyMs));
    if (events) row.push(l.events ? `${l.events.recordsStored} / ${l.events.acknowledged}` : '–', f2(s?.meanLinesPerWrite), f2(s?.meanWriteLagMs));
    if (nats) row.push(f0(l.natsCpuPct), f0(l.natsCpuPct === undefined ? null : usPerRequest(l, l.natsCpuPct)));
    return row;
  }));
}

/** The ceiling point for a batch size: the measured one nearest to it. */
function ceilingAt(c: CeilingResult | undefined, batch: number | null): CeilingPoint | undefined {
  if (!c || batch === null) return undefined;
  return c.points.reduce((best, p) => (Math.abs(p.batch - batch) < Math.abs(best.batch - batch) ? p : best));
}

/** The ceiling measured with the server's own worker count. */
function sameWorkers(r: BenchResults, scenario: string, workers: number): CeilingResult | undefined {
  return r.ceilings.find((c) => c.scenario === scenario && c.workers === workers) ?? r.ceilings.find((c) => c.scenario === scenario);
}

/** The ceiling with every core running inference (the most workers measured). */
function allCores(r: BenchResults, scenario: string): CeilingResult | undefined {
  return r.ceilings.filter((c) => c.scenario === scenario).sort((a, b) => b.workers - a.workers)[0];
}

/** The bare uWS run with the same route and bodies as each server scenario. */
const BARE_FOR: Record<string, string> = { health: 'bare-health', 'analyze-16': 'bare-analyze', 'event-probs': 'bare-event', 'event-end': 'bare-event' };

function ratioRows(r: BenchResults): string[][] {
  const rows: string[][] = [];
  const levelOf = (t: TargetResult | undefined, conns: number) => t?.levels.find((l) => l.load.connections === conns);
  for (const server of r.servers) {
    const bare = r.bareUws.find((b) => b.name === BARE_FOR[server.name]);
    const naive = server.name === 'analyze-16' ? r.naive[0] : undefined;
    const ceiling = sameWorkers(r, server.name, server.workers);
    const best = ceiling ? Math.max(...ceiling.points.map((p) => p.windowsPerSec)) : null;
    const machine = allCores(r, server.name);
    const machineBest = machine ? Math.max(...machine.points.map((p) => p.windowsPerSec)) : null;
    for (const level of server.levels) {
      const conns = level.load.connections;
      const atBatch = ceilingAt(ceiling, level.figures?.meanBatch ?? null);
      const ratio = (base: number | null | undefined) => (base ? level.load.rps / base : null);
      rows.push([server.name, String(conns), f0(level.load.rps),
        atBatch ? `${pct(ratio(atBatch.windowsPerSec))} (batch ${atBatch.batch}: ${f0(atBatch.windowsPerSec)})` : '–',
        best ? `${pct(ratio(best))} (${f0(best)})` : '–',
        machineBest ? `${pct(ratio(machineBest))} (${machine!.workers} workers: ${f0(machineBest)})` : '–',
        pct(ratio(levelOf(bare, conns)?.load.rps)), pct(ratio(levelOf(naive, conns)?.load.rps))]);
    }
  }
  return rows;
}

function streamSections(run: StreamRun): string[] {
  const { settings: s } = run;
  const head = ['cameras', 'frames/s sent (of nominal)', 'skipped', 'analyses/s', 'answered ÷ expected', 'dropped', 'failed', 'errors',
    'p50 ms', 'p99 ms', 'server p99 ms', 'server CPU %', 'main thread %', 'loadgen CPU %', 'others CPU %', 'mean batch', 'queue wait ms', 'run ms'];
  return run.modes.flatMap((mode) => [
    `## ${mode.name}: ${mode.description} (${run.workers} inference workers, ${s.fps} fps per camera, stride ${s.stride}, ` +
      `${s.durationSec} s per level after ${s.warmupSec} s warm-up, CPU over the middle ${f0(mode.levels[0]?.windowSec)} s)`,
    table(head, mode.levels.map((l) => {
      const a = l.agent;
      return [String(l.cameras), `${f0(l.framesPerSec)} (${f0(l.cameras * s.fps)})`, String(a.framesSkipped), f0(l.analysesPerSec),
        `${(100 * l.answeredShare).toFixed(1)}% (${a.analysesAnswered}/${a.analysesExpected})`, String(a.analysesDropped), String(a.analysesFailed), String(a.errors),
        f2(a.latencyMs.p50), f2(a.latencyMs.p99), f2(a.serverLatencyMs?.p99), f0(l.serverCpu.processPct), f0(l.serverCpu.mainThreadPct), f0(l.loadGenCpuPct), f0(l.otherCpuPct),
        f2(l.figures.meanBatch), f2(l.figures.meanQueueWaitMs), f2(l.figures.meanRunMs)];
    })) + (mode.stoppedBecause ? `\n\nStopped: ${mode.stoppedBecause}.` : ''),
  ]);
}

function targetLines(r: BenchResults): string[] {
  const level = (name: string, conns: number) => r.servers.find((s) => s.name === name)?.levels.find((l) => l.load.connections === conns);
  const out: string[] = [];
  const analyze = level('analyze-16', 64);
  const analyzeServer = r.servers.find((s) => s.name === 'analyze-16');
  if (analyze && analyzeServer) {
    const atBatch = ceilingAt(sameWorkers(r, 'analyze-16', analyzeServer.workers), analyze.figures?.meanBatch ?? null);
    const share = atBatch ? analyze.load.rps / atBatch.windowsPerSec : null;
    const machine = allCores(r, 'analyze-16');
    const machineShare = machine ? analyze.load.rps / Math.max(...machine.points.map((p) => p.windowsPerSec)) : null;
    const ok = analyze.load.rps >= 2000 && analyze.load.p99Ms !== null && analyze.load.p99Ms < 100 && share !== null && share >= 0.5;
    out.push(`- analyze-16 at 64 connections: ${f0(analyze.load.rps)} req/s (target ≥ 2,000), p99 ${f2(analyze.load.p99Ms)} ms (target < 100), ` +
      `${pct(share)} of the ceiling with the server's ${analyzeServer.workers} worker(s) (target ≥ 50%): ${ok ? 'met' : 'NOT met'}` +
      (machine && machine.workers !== analyzeServer.workers ? `; ${pct(machineShare)} of the ${machine.workers}-worker, all-cores ceiling` : ''));
  }
  for (const [name, target] of [['event-probs', 20_000], ['event-end', 20_000], ['event-probs-nats', 10_000]] as const) {
    const best = r.servers.find((s) => s.name === name)?.levels.reduce((a, b) => (b.load.rps > a.load.rps ? b : a));
    if (!best) continue;
    const lost = r.servers.find((s) => s.name === name)!.levels.reduce((n, l) => n + (l.events?.lost ?? 0), 0);
    out.push(`- ${name}: best ${f0(best.load.rps)} req/s at ${best.load.connections} connections (target ≥ ${f0(target)}), ${lost} acknowledged events lost: ${best.load.rps >= target && lost === 0 ? 'met' : 'NOT met'}`);
  }
  const health = r.servers.find((s) => s.name === 'health')?.levels.reduce((a, b) => (b.load.rps > a.load.rps ? b : a));
  if (health) out.push(`- health: best ${f0(health.load.rps)} req/s at ${health.load.connections} connections (target ≥ 30,000): ${health.load.rps >= 30000 ? 'met' : 'NOT met'}`);
  return out;
}

export function toMarkdown(r: BenchResults): string {
  const m = r.machine;
  const parts = [
    `# Benchmark run ${r.startedAt}`,
    `\`${r.command}\` — ${m.cpus} CPUs (${m.cpuModel}), ${m.memGiB} GiB, Node ${m.node}, Linux ${m.kernel}; ` +
      `${r.settings.durationSec} s per measurement after ${r.settings.warmupSec} s warm-up; server env ${JSON.stringify(r.serverEnv)}`,
  ];
  for (const s of r.servers) {
    const shape = s.processes > 1 ? `${s.processes} processes on one port × ${s.workers} inference workers` : `${s.workers} inference workers`;
    parts.push(`## ${s.name} (server, ${shape}, ${s.store} store, ${s.model})`, levelTable(s.levels, true));
  }
  for (const b of [...r.bareUws, ...r.naive]) parts.push(`## ${b.name} (baseline)`, levelTable(b.levels, false));
  for (const c of r.ceilings) {
    parts.push(`## in-process ceiling for ${c.scenario} (${c.workers} workers × 1 intra-op thread, ${c.model})`,
      table(['batch', 'windows/s', 'run ms per batch'], c.points.map((p) => [String(p.batch), f0(p.windowsPerSec), f2(p.meanRunMs)])));
  }
  const ratios = ratioRows(r);
  if (ratios.length) {
    parts.push('## Ratios (server req/s ÷ baseline)', table(['scenario', 'conns', 'req/s', '÷ ceiling at the server\'s batch', '÷ best ceiling', '÷ all-cores ceiling', '÷ bare uWS', '÷ naive node:http'], ratios));
  }
  const all = [...r.servers, ...r.bareUws, ...r.naive];
  if (all.length) parts.push('## Memory (RSS MiB; peak/end under the largest connection count)', table(['target', 'at rest', 'peak', 'end of load', `after ${r.settings.restSec} s rest`],
    all.map((t) => [t.name, f0(t.memory.restMiB), f0(t.memory.peakMiB), f0(t.memory.endMiB), f0(t.memory.afterRestMiB)])));
  for (const soak of r.memory) {
    parts.push(`## Memory soak: ${soak.name}, ${soak.connections} connections, RSS at rest ${f0(soak.restMiB)} MiB`,
      table(['round', 'req/s', 'peak MiB', 'end MiB', `after ${r.settings.restSec} s rest MiB`, 'main-thread heap used MiB'],
        soak.rounds.map((x, i) => [String(i + 1), f0(x.rps), f0(x.peakMiB), f0(x.endMiB), f0(x.afterRestMiB), f0(x.mainHeapUsedMiB)])));
  }
  if (r.stream) parts.push(...streamSections(r.stream));
  const targets = targetLines(r);
  if (targets.length) parts.push('## Targets', targets.join('\n'));
  return parts.join('\n\n') + '\n';
}

/** Writes <dir>/<stamp>.json and .md, and latest.json / latest.md; returns the JSON path. */
export function saveResults(r: BenchResults, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, '-');
  const json = JSON.stringify(r, null, 2);
  const md = toMarkdown(r);
  for (const name of [stamp, 'latest']) {
    writeFileSync(join(dir, `${name}.json`), json);
    writeFileSync(join(dir, `${name}.md`), md);
  }
  return join(dir, `${stamp}.json`);
}
