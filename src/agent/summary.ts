/**
 * The end of a run: per camera and in total, what was sent, what came back and how fast, whether
 * every due analysis was answered — as an object (runAgent's result, `--json`) and as a table.
 */
import type { CameraStats } from './camera-stats.js';
import { LatencyRecorder, type LatencyFigures } from '../common/latency.js';
import type { AgentOptions } from './options.js';

export interface CameraSummary {
  camera: string;
  framesSent: number;
  /** Produced but not sent (the agent's timer fell behind, or the socket was congested). */
  framesSkipped: number;
  analysesExpected: number;
  analysesAnswered: number;
  /** ws: dropped by the server; http: superseded by a newer window while a request was in flight. */
  analysesDropped: number;
  analysesFailed: number;
  /** Expected and not answered. */
  analysesLost: number;
  /** By type: posted by the agent (http) or pushed by the server (ws). */
  events: Record<string, number>;
  /** From the newest frame of a window being sent to its analysis arriving. */
  latencyMs: LatencyFigures;
  /** ws only: the server's own figure, frame arrival to analysis sent. */
  serverLatencyMs: LatencyFigures | null;
  errors: number;
  /** The first few error details. */
  problems: string[];
}

export interface AgentSummary {
  mode: AgentOptions['mode'];
  url: string;
  cameras: number;
  fps: number;
  stride: number;
  input: AgentOptions['input'];
  binary: boolean;
  sockets: AgentOptions['sockets'];
  /** Seconds the cameras streamed. */
  seconds: number;
  perCamera: CameraSummary[];
  total: Omit<CameraSummary, 'camera' | 'problems'>;
  /** Every expected analysis answered and no errors. */
  ok: boolean;
}

export function buildSummary(options: AgentOptions, stats: readonly CameraStats[], seconds: number): AgentSummary {
  const perCamera = stats.map(cameraSummary(options));
  const sum = (pick: (c: CameraSummary) => number) => perCamera.reduce((n, c) => n + pick(c), 0);
  const events: Record<string, number> = {};
  for (const c of perCamera) for (const [type, n] of Object.entries(c.events)) events[type] = (events[type] ?? 0) + n;
  const total = {
    framesSent: sum((c) => c.framesSent),
    framesSkipped: sum((c) => c.framesSkipped),
    analysesExpected: sum((c) => c.analysesExpected),
    analysesAnswered: sum((c) => c.analysesAnswered),
    analysesDropped: sum((c) => c.analysesDropped),
    analysesFailed: sum((c) => c.analysesFailed),
    analysesLost: sum((c) => c.analysesLost),
    events,
    latencyMs: LatencyRecorder.merged(stats.map((s) => s.latency)),
    serverLatencyMs: options.mode === 'ws' ? LatencyRecorder.merged(stats.map((s) => s.serverLatency)) : null,
    errors: sum((c) => c.errors),
  };
  const { mode, url, cameras, fps, stride, input, binary, sockets } = options;
  return { mode, url, cameras, fps, stride, input, binary, sockets, seconds: Math.round(seconds * 10) / 10, perCamera, total, ok: total.analysesLost === 0 && total.errors === 0 };
}

const cameraSummary = (options: AgentOptions) => (s: CameraStats): CameraSummary => ({
  camera: s.name,
  framesSent: s.framesSent,
  framesSkipped: s.framesSkipped,
  analysesExpected: s.expected,
  analysesAnswered: s.answered,
  analysesDropped: s.dropped,
  analysesFailed: s.failed,
  analysesLost: s.lost,
  events: { ...s.events },
  latencyMs: s.latency.figures(),
  serverLatencyMs: options.mode === 'ws' ? s.serverLatency.figures() : null,
  errors: s.errors,
  problems: [...s.problems],
});

const HEADINGS = ['camera', 'frames', 'skipped', 'expected', 'answered', 'dropped', 'failed', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'events'];

/** The summary as a table, a verdict line, and what each camera lost. */
export function formatSummary(summary: AgentSummary): string {
  const { mode, cameras, fps, stride, seconds, total } = summary;
  const how = mode === 'ws' ? `${summary.input}${summary.binary ? ' (binary)' : ' (json)'}, ${summary.sockets} sockets` : 'POST /behavior/analyze + /event/payload';
  const rows = [HEADINGS, ...summary.perCamera.map((c) => cells(c.camera, c)), cells('total', total)];
  const widths = HEADINGS.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) => r.map((cell, i) => (i === 0 || i === r.length - 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd());
  const lines = [`${mode} · ${cameras} camera${cameras === 1 ? '' : 's'} at ${fps} fps · stride ${stride} · ${seconds} s · ${how} · ${summary.url}`, '', ...table, ''];
  if (total.serverLatencyMs) lines.push(`server-side latency (frame arrival → analysis sent): p50 ${ms(total.serverLatencyMs.p50)} · p99 ${ms(total.serverLatencyMs.p99)} · max ${ms(total.serverLatencyMs.max)} ms`);
  if (summary.ok) lines.push(`OK: every expected analysis answered (${total.analysesAnswered}/${total.analysesExpected}), no errors`);
  else {
    lines.push(`NOT OK: ${total.analysesLost} of ${total.analysesExpected} analyses not answered, ${total.errors} errors`);
    for (const c of summary.perCamera) {
      if (c.analysesLost === 0 && c.errors === 0) continue;
      const lost = [c.analysesDropped && `${c.analysesDropped} dropped`, c.analysesFailed && `${c.analysesFailed} failed`, c.analysesLost - c.analysesDropped - c.analysesFailed > 0 && `${c.analysesLost - c.analysesDropped - c.analysesFailed} never came back`].filter(Boolean);
      lines.push(`  ${c.camera}: ${c.analysesLost} lost${lost.length ? ` (${lost.join(', ')})` : ''}, ${c.errors} errors${c.problems.length ? ` — ${c.problems.join('; ')}` : ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function cells(name: string, c: Omit<CameraSummary, 'camera' | 'problems'>): string[] {
  const events = Object.entries(c.events).map(([type, n]) => `${type} ${n}`).join(', ') || '-';
  return [name, c.framesSent, c.framesSkipped, c.analysesExpected, c.analysesAnswered, c.analysesDropped, c.analysesFailed, ms(c.latencyMs.p50), ms(c.latencyMs.p99), ms(c.latencyMs.max), c.errors, events].map(String);
}

function ms(value: number | null): string {
  return value === null ? '-' : value.toFixed(1);
}
