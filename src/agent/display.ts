/**
 * The live view: a line per camera — what the person is doing (the generator's truth), what the
 * server makes of it, latency, analyses answered — and the latest events under them. On a
 * terminal the block is redrawn in place; otherwise the lines are printed every few seconds and
 * each event as it comes.
 */
import { topEvent, type CameraStats } from './camera-stats.js';

const REDRAW_MS = 250;
const PLAIN_EVERY_MS = 5000;
const EVENTS_SHOWN = 8;
const COLUMNS: readonly [string, number][] = [
  ['camera', 8],
  ['activity', 12],
  ['state', 28],
  ['top event', 18],
  ['ms last/p50', 14],
  ['answered', 13],
  ['dropped', 8],
  ['errors', 6],
];

type Output = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export class LiveDisplay {
  private readonly tty: boolean;
  private readonly events: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private drawnLines = 0;

  constructor(private readonly out: Output, private readonly stats: readonly CameraStats[], private readonly heading: () => string) {
    this.tty = out.isTTY === true;
  }

  start(): void {
    this.timer = setInterval(() => (this.tty ? this.redraw() : this.printPlain()), this.tty ? REDRAW_MS : PLAIN_EVERY_MS);
    if (this.tty) this.redraw();
  }

  /** An event or a problem, shown under the camera lines. */
  event(line: string): void {
    const stamped = `${new Date().toTimeString().slice(0, 8)} ${line}`;
    if (!this.tty) return void this.out.write(`${stamped}\n`);
    this.events.push(stamped);
    if (this.events.length > EVENTS_SHOWN) this.events.shift();
  }

  /** The last picture stays on screen. */
  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty) this.redraw();
    else this.printPlain();
  }

  private redraw(): void {
    const width = Math.max(40, (this.out.columns ?? 120) - 1);
    const lines = [this.heading(), row(COLUMNS.map(([name]) => name)), ...this.stats.map(cameraLine), '', ...this.events];
    // Up to the block's first line, then each line cleared and rewritten, then anything below cleared.
    let text = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F` : '';
    for (const line of lines) text += `\x1b[2K${line.slice(0, width)}\n`;
    this.out.write(`${text}\x1b[J`);
    this.drawnLines = lines.length;
  }

  private printPlain(): void {
    this.out.write(`${this.heading()}\n${this.stats.map((s) => `  ${cameraLine(s)}`).join('\n')}\n`);
  }
}

function cameraLine(stats: CameraStats): string {
  const last = stats.last;
  const top = last ? topEvent(last) : null;
  const active = [...stats.active].join(',');
  const state = !last ? 'waiting' : last.is_anomaly || active ? `ANOMALY ${active || (top?.event ?? '')}` : 'normal';
  const latency = stats.latency.last === null ? '-' : `${fixed(stats.latency.last)} / ${fixed(stats.latency.recentMedian())}`;
  return row([
    stats.name,
    stats.activity || '-',
    state,
    top ? `${top.event} ${top.score.toFixed(2)}` : '-',
    latency,
    `${stats.answered}/${stats.expected}`,
    String(stats.dropped),
    String(stats.errors + stats.failed),
  ]);
}

function row(cells: string[]): string {
  return cells.map((cell, i) => cell.padEnd(COLUMNS[i]![1])).join(' ').trimEnd();
}

function fixed(ms: number | null): string {
  return ms === null ? '-' : ms.toFixed(1);
}
