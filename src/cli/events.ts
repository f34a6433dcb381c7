/**
 * `npm run events -- --limit 20 [--file path]`: the last events of the event store as a table (time,
 * type, session, event, probability, duration, the rest). `--export FILE` writes the whole store as
 * a JSONL log instead, byte for byte the file the file store keeps (each record's line and "\n", in
 * the store's order).
 *
 * The store is the server's: BACKEND_EVENT_STORE (file: BACKEND_EVENT_LOG_JSONL, of which only the
 * tail is read; nats: NATS_URL and BACKEND_NATS_STREAM), from the environment or ./.env. `--file`
 * reads that file whatever the store. A file that does not exist, or a NATS stream that cannot be
 * read, is an error (exit 1). Text from the log is printed with control characters escaped, so a
 * log line cannot drive the terminal.
 */
import { createReadStream, createWriteStream, existsSync, openSync, readFileSync, statSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import dotenv from 'dotenv';
import { DEFAULT_EVENT_LOG, DEFAULT_NATS_STREAM, DEFAULT_NATS_URL } from '../common/defaults.js';
import { natsServers, shownServers } from '../common/nats-url.js';
import { openEventStreamReader, type EventStreamReader } from '../common/event-stream.js';
import { readLogTail } from '../common/log-tail.js';
import { parseJsonObject } from '../common/parse-json-object.js';
import { pythonFixed, pythonJson, pythonObject } from '../common/python-format.js';

const USAGE = 'usage: npm run events -- [--limit N] [--file path] [--export FILE]   (default: the last 50 events of the server\'s event store)';
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

/** Where the events are read from. */
type Source = { kind: 'file'; path: string } | { kind: 'nats'; servers: string[]; stream: string };

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { limit: { type: 'string' }, file: { type: 'string' }, path: { type: 'string' }, export: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
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
  const file = values.file ?? values.path;
  const source: Source | null = file !== undefined ? { kind: 'file', path: resolve(file) } : serverSource();
  if (source === null) return 1;
  if (source.kind === 'file') {
    const problem = unreadable(source.path);
    if (problem) {
      console.error(problem);
      return 1;
    }
  }
  if (values.export !== undefined) return exportLog(source, resolve(values.export));
  const last = await lastLines(source, Math.max(1, limit));
  if (last === null) return 1;
  const rows: Row[] = [];
  for (const line of last.lines) {
    const row = toRow(line);
    if (row) rows.push(row);
  }
  const skipped = last.lines.length - rows.length + last.oversized;
  if (skipped) console.error(`[WARN] skipped ${skipped} line(s) that are not event records`);
  console.log(table(rows));
  return 0;
}

/**
 * The server's store as the server would find it: BACKEND_EVENT_STORE and its settings from the
 * environment, else from ./.env, else the defaults (without loading, or being stopped by, the rest
 * of the configuration).
 */
function serverSource(): Source | null {
  const fromDotenv = existsSync('.env') ? dotenv.parse(readFileSync('.env')) : {};
  const setting = (name: string) => process.env[name] ?? fromDotenv[name];
  if (setting('BACKEND_EVENT_STORE') === 'nats') {
    const servers = natsServers(setting('NATS_URL') ?? DEFAULT_NATS_URL);
    if (servers.length === 0) {
      console.error('NATS_URL names no server. Pass --file to read a log file.');
      return null;
    }
    return { kind: 'nats', servers, stream: setting('BACKEND_NATS_STREAM') ?? DEFAULT_NATS_STREAM };
  }
  const path = setting('BACKEND_EVENT_LOG_JSONL') ?? DEFAULT_EVENT_LOG;
  if (path === '') {
    console.error('BACKEND_EVENT_LOG_JSONL is empty: the server keeps no event log. Pass --file.');
    return null;
  }
  return { kind: 'file', path: resolve(path) };
}

function describe(source: Source): string {
  return source.kind === 'file' ? source.path : `${shownServers(source.servers)}/${source.stream}`;
}

/** The store's last `count` records, oldest first, and how many over-long lines were skipped; null after saying why they cannot be read. */
async function lastLines(source: Source, count: number): Promise<{ lines: string[]; oversized: number } | null> {
  console.log(`[INFO] Reading last ${count} events from: ${visible(describe(source))}`);
  if (source.kind === 'file') {
    const tail = await readLogTail(source.path, count);
    if (tail.torn) console.error(`[WARN] skipped a torn last line (${tail.torn.bytes} bytes)`);
    return tail;
  }
  return withStream(source, async (reader) => {
    const bounds = await reader.bounds();
    const lines: string[] = [];
    if (bounds.count > 0) for await (const record of reader.read(Math.max(bounds.first, bounds.last - count + 1), bounds.last)) lines.push(record.line);
    return { lines, oversized: 0 };
  });
}

/** Runs `work` on the NATS stream; a stream that cannot be reached or read is one line on stderr and null. */
async function withStream<T>(source: Extract<Source, { kind: 'nats' }>, work: (reader: EventStreamReader) => Promise<T>): Promise<T | null> {
  let reader: EventStreamReader;
  try {
    reader = await openEventStreamReader(source.servers, source.stream);
  } catch (err) {
    console.error(`cannot reach NATS at ${visible(shownServers(source.servers))}: ${visible((err as Error).message)}`);
    return null;
  }
  try {
    return await work(reader);
  } catch (err) {
    console.error(`cannot read NATS stream ${visible(source.stream)}: ${visible((err as Error).message)}`);
    return null;
  } finally {
    await reader.close();
  }
}

/** Writes every record of the store to `target` as the file store's JSONL log; exit code. */
async function exportLog(source: Source, target: string): Promise<number> {
  let fd: number;
  try {
    fd = openSync(target, 'w');
  } catch (err) {
    console.error(`cannot write ${visible(target)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return 1;
  }
  const out = createWriteStream('', { fd });
  const write = async (text: string | Buffer) => { if (!out.write(text)) await once(out, 'drain'); };
  let count: number | null;
  if (source.kind === 'file') {
    count = await copyCompleteLines(source.path, write);
  } else {
    count = await withStream(source, async (reader) => {
      const bounds = await reader.bounds();
      let records = 0;
      if (bounds.count > 0) {
        for await (const record of reader.read(bounds.first, bounds.last)) {
          await write(`${record.line}\n`);
          records += 1;
        }
      }
      return records;
    });
  }
  await endStream(out);
  if (count === null) return 1;
  console.error(`[INFO] Exported ${count} events from ${visible(describe(source))} to ${visible(target)}`);
  return 0;
}

/** Copies the log's complete lines as they are; a torn last line (no newline) is left out. Returns the line count. */
async function copyCompleteLines(path: string, write: (bytes: Buffer) => Promise<void>): Promise<number> {
  let lines = 0;
  let held = Buffer.alloc(0);
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    const bytes = held.length ? Buffer.concat([held, chunk]) : chunk;
    const end = bytes.lastIndexOf(0x0a) + 1;
    for (let i = bytes.indexOf(0x0a); i !== -1 && i < end; i = bytes.indexOf(0x0a, i + 1)) lines += 1;
    if (end > 0) await write(bytes.subarray(0, end));
    held = Buffer.from(bytes.subarray(end));
  }
  if (held.length) console.error(`[WARN] left out a torn last line (${held.length} bytes)`);
  return lines;
}

function endStream(out: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    out.once('error', reject);
    out.end(() => resolve());
  });
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
