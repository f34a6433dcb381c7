/**
 * `npm run events -- --limit 20 [--file path]`: the last events of a JSONL log as a table, in the
 * seed CLI's layout. Reads only the tail of the file. The default file is BACKEND_EVENT_LOG_JSONL.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { readLogTail } from '../events/log-tail.js';
import { parseJsonObject } from '../json.js';
import { pythonFixed } from '../events/python-format.js';
import { PAYLOAD_FLOAT_FIELDS, pythonObject } from '../events/records.js';

const USAGE = 'usage: npm run events -- [--limit N] [--file path]   (default: the last 50 events of BACKEND_EVENT_LOG_JSONL)';
const HEADERS = ['#', 'Timestamp', 'Type', 'Session', 'User', 'Summary'] as const;
const SUMMARY_WIDTH_MAX = 80;

interface Row {
  timestamp: string;
  type: string;
  session: string;
  user: string;
  summary: string;
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { limit: { type: 'string' }, file: { type: 'string' }, path: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit)) {
    console.error(`--limit must be an integer (got ${JSON.stringify(values.limit)})\n${USAGE}`);
    return 2;
  }
  const path = values.file ?? values.path ?? defaultPath();
  if (path === null) return 1;
  const count = Math.max(1, limit);
  console.log(`[INFO] Reading last ${count} events from: ${path}`);
  const tail = await readLogTail(path, count);
  if (tail.torn) console.error(`[WARN] skipped a torn last line (${tail.torn.bytes} bytes)`);
  const rows: Row[] = [];
  for (const line of tail.lines) {
    const row = toRow(line);
    if (row) rows.push(row);
  }
  const skipped = tail.lines.length - rows.length + tail.oversized;
  if (skipped) console.error(`[WARN] skipped ${skipped} line(s) that are not event records`);
  console.log(table(rows));
  return 0;
}

function defaultPath(): string | null {
  try {
    const path = loadConfig().events.logPath;
    if (path === null) console.error('BACKEND_EVENT_LOG_JSONL is empty: the server keeps no event log. Pass --file.');
    return path;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`configuration: ${err.message}. Pass --file to read a log directly.`);
    return null;
  }
}

function toRow(line: string): Row | null {
  const record = parseJsonObject(line);
  if (!record) return null;
  const text = (v: unknown) => (v === null || v === undefined || v === '' ? '' : String(v));
  return {
    timestamp: shortTimestamp(record.timestamp),
    type: text(record.event_type),
    session: text(record.session_id),
    user: text(record.user_id),
    summary: summarize(record.data),
  };
}

/** The seed showed "YYYY-MM-DD HH:MM:SS" of the ISO timestamp as written (no zone conversion). */
function shortTimestamp(value: unknown): string {
  if (typeof value !== 'string') return '';
  const m = /^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}:\d{2}(?::\d{2})?))?/.exec(value);
  if (!m) return value;
  const time = m[2] ?? '00:00:00';
  return `${m[1]} ${time.length === 5 ? `${time}:00` : time}`;
}

/** top_event (top_prob) when both are set, else the data as compact JSON, as the seed printed it. */
function summarize(data: unknown): string {
  if (data === null || data === undefined) return '';
  if (typeof data !== 'object' || Array.isArray(data)) return String(data);
  const d = data as Record<string, unknown>;
  if (d.top_event !== null && d.top_event !== undefined && typeof d.top_prob === 'number') {
    return `${String(d.top_event)} (${pythonFixed(d.top_prob, 2)})`;
  }
  const isPayload = 'type' in d && 'ts' in d && 'probs' in d;
  return pythonObject(d, isPayload ? PAYLOAD_FLOAT_FIELDS : null, ',', ':');
}

/** Widths count code points, as Python's len() did. */
const width = (s: string) => [...s].length;

function table(rows: Row[]): string {
  if (rows.length === 0) return 'No events found.';
  const widths = [
    Math.max(HEADERS[0].length, String(rows.length).length),
    Math.max(HEADERS[1].length, ...rows.map((r) => width(r.timestamp))),
    Math.max(HEADERS[2].length, ...rows.map((r) => width(r.type))),
    Math.max(HEADERS[3].length, ...rows.map((r) => width(r.session))),
    Math.max(HEADERS[4].length, ...rows.map((r) => width(r.user))),
    Math.min(Math.max(HEADERS[5].length, ...rows.map((r) => width(r.summary))), SUMMARY_WIDTH_MAX),
  ];
  const format = (cells: string[]) => cells.map((cell, i) => {
    const pad = ' '.repeat(Math.max(0, widths[i]! - width(cell)));
    return i === 0 ? pad + cell : cell + pad;
  }).join('  ');
  const out = [format([...HEADERS]), '-'.repeat(widths.reduce((a, b) => a + b, 0) + 10)];
  rows.forEach((row, i) => {
    const summaryWidth = widths[5]!;
    const chars = [...row.summary];
    const summary = chars.length > summaryWidth ? `${chars.slice(0, summaryWidth - 3).join('')}...` : row.summary;
    out.push(format([String(i + 1), row.timestamp, row.type, row.session, row.user, summary]));
  });
  return out.join('\n');
}

process.exitCode = await main(process.argv.slice(2));
