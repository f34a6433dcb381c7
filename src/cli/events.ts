/**
 * `npm run events -- --limit 20 [--file path]`: the last events of a JSONL log as a table (time,
 * type, session, event, probability, duration, the rest). Reads only the tail of the file. The default
 * file is BACKEND_EVENT_LOG_JSONL; a file that does not exist is an error (exit 1). Text from the log
 * is printed with control characters escaped, so a log line cannot drive the terminal.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import dotenv from 'dotenv';
import { DEFAULT_EVENT_LOG } from '../common/defaults.js';
import { readLogTail } from '../common/log-tail.js';
import { parseJsonObject } from '../common/parse-json-object.js';
import { pythonFixed, pythonJson, pythonObject } from '../common/python-format.js';

const USAGE = 'usage: npm run events -- [--limit N] [--file path]   (default: the last 50 events of BACKEND_EVENT_LOG_JSONL)';
const HEADERS = ['#', 'Time', 'Type', 'Session', 'Event', 'Prob', 'Duration', 'Detail'] as const;
/** Columns whose values are numbers, aligned right. */
const RIGHT = new Set([0, 5, 6]);
const DETAIL_WIDTH_MAX = 60;

interface Row {
  time: string;
  type: string;
  session: string;
  event: string;
  prob: string;
  duration: string;
  detail: string;
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
  const problem = unreadable(path);
  if (problem) {
    console.error(problem);
    return 1;
  }
  const count = Math.max(1, limit);
  console.log(`[INFO] Reading last ${count} events from: ${visible(path)}`);
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

/**
 * The server's log path as the server would find it: BACKEND_EVENT_LOG_JSONL from the environment,
 * else from ./.env, else the default (without loading, or being stopped by, the rest of the configuration).
 */
function defaultPath(): string | null {
  const fromDotenv = existsSync('.env') ? dotenv.parse(readFileSync('.env')).BACKEND_EVENT_LOG_JSONL : undefined;
  const path = process.env.BACKEND_EVENT_LOG_JSONL ?? fromDotenv ?? DEFAULT_EVENT_LOG;
  if (path === '') {
    console.error('BACKEND_EVENT_LOG_JSONL is empty: the server keeps no event log. Pass --file.');
    return null;
  }
  return resolve(path);
}

/** Why `path` cannot be read as a log (one line, for stderr), or null. */
function unreadable(path: string): string | null {
  try {
    if (!statSync(path).isFile()) return `not a file: ${visible(path)}`;
    return null;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code === 'ENOENT' ? `no such file: ${visible(path)}` : `cannot read ${visible(path)}: ${e.code ?? e.message}`;
  }
}

/**
 * Text from the log made safe for a terminal: C0 and C1 controls, DEL, and the bidirectional
 * controls (which can reorder what the table shows) become visible escapes (\x1b, \u202e).
 */
function visible(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

const isSet = (v: unknown) => v !== null && v !== undefined && v !== '';
const text = (v: unknown) => (isSet(v) ? String(v) : '');

function toRow(line: string): Row | null {
  const record = parseJsonObject(line);
  if (!record) return null;
  const data = record.data;
  const d = data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : null;
  // START / END name their event; PROBS / HEARTBEAT the top one.
  const named = d !== null && isSet(d.event);
  const prob = d ? (named ? d.prob : isSet(d.top_event) ? d.top_prob : d.prob) : null;
  const row: Row = {
    time: shortTimestamp(record.timestamp),
    type: text(record.event_type),
    session: text(record.session_id),
    event: d ? text(named ? d.event : d.top_event) : '',
    prob: typeof prob === 'number' ? pythonFixed(prob, 2) : '',
    duration: d && typeof d.duration_sec === 'number' ? `${pythonFixed(d.duration_sec, 1)} s` : '',
    detail: detail(record.user_id, data),
  };
  for (const key of Object.keys(row) as (keyof Row)[]) row[key] = visible(row[key]);
  return row;
}

/** The seed showed "YYYY-MM-DD HH:MM:SS" of the ISO timestamp as written (no zone conversion). */
function shortTimestamp(value: unknown): string {
  if (typeof value !== 'string') return '';
  const m = /^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}:\d{2}(?::\d{2})?))?/.exec(value);
  if (!m) return value;
  const time = m[2] ?? '00:00:00';
  return `${m[1]} ${time.length === 5 ? `${time}:00` : time}`;
}

/** The rest of an agent event (user, state, frame, probs); any other data as compact JSON. */
function detail(user: unknown, data: unknown): string {
  const parts = isSet(user) ? [`user=${String(user)}`] : [];
  if (data === null || data === undefined) return parts.join(' ');
  if (typeof data !== 'object' || Array.isArray(data)) return [...parts, pythonJson(data, false, ',', ':')].join(' ');
  const d = data as Record<string, unknown>;
  if (!('type' in d && 'ts' in d && 'probs' in d)) return [...parts, pythonObject(d, null, ',', ':')].join(' ');
  if (isSet(d.state)) parts.push(`state=${String(d.state)}`);
  if (isSet(d.frame_idx)) parts.push(`frame=${String(d.frame_idx)}`);
  if (d.probs && typeof d.probs === 'object' && !Array.isArray(d.probs)) {
    const probs = Object.entries(d.probs as Record<string, unknown>).map(([k, v]) => `${k}=${typeof v === 'number' ? pythonFixed(v, 2) : String(v)}`);
    if (probs.length) parts.push(`probs ${probs.join(',')}`);
  }
  return parts.join(' ');
}

/** Widths count code points, as Python's len() did. */
const width = (s: string) => [...s].length;

function table(rows: Row[]): string {
  if (rows.length === 0) return 'No events found.';
  const cells = rows.map((row, i) => [String(i + 1), row.time, row.type, row.session, row.event, row.prob, row.duration, cut(row.detail, DETAIL_WIDTH_MAX)]);
  const widths = HEADERS.map((header, col) => Math.max(header.length, ...cells.map((c) => width(c[col]!))));
  const format = (line: readonly string[]) => line.map((cell, col) => {
    const pad = ' '.repeat(Math.max(0, widths[col]! - width(cell)));
    return RIGHT.has(col) ? pad + cell : cell + pad;
  }).join('  ').trimEnd();
  const header = format(HEADERS);
  return [header, '-'.repeat(width(header)), ...cells.map(format)].join('\n');
}

function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length > max ? `${chars.slice(0, max - 3).join('')}...` : text;
}

process.exitCode = await main(process.argv.slice(2));
