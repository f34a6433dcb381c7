/**
 * A page of a JSONL file read backwards from a byte offset: the watch page's older events from the
 * file store. A cursor is the offset of a line's first byte; the page holds the complete lines that
 * end at or before it, newest first, and its `next` is where the next older page starts.
 *
 * Each call is bounded by the bytes it reads (scanBytes, plus at most one chunk), not by lines: a
 * filter that matches little (one camera among hundreds, START/END among PROBS) must not turn one
 * request into a read of the whole file. A page stopped by its bound may hold fewer lines than asked
 * for, or none, and still have a `next`.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { readLinesBackward } from './backward-lines.js';
import { parseJsonObject } from './parse-json-object.js';

export interface LogPageQuery {
  /** A previous page's `next`, or null for the file's end. Past the end (the file was rotated or cut): the end. */
  before: number | null;
  limit: number;
  /** Whether a record (a line that is a JSON object) belongs on the page. */
  accept(record: Record<string, unknown>): boolean;
}

export interface LogPage {
  /** The accepted lines as written, newest first. */
  lines: string[];
  /** The offset the next older page starts from, or null at the file's start. */
  next: number | null;
}

export interface LogPageOptions {
  chunkBytes?: number;
  /** Bytes read per page before it stops early. */
  scanBytes?: number;
  /** A longer line is skipped, never held in memory; at most half of scanBytes, so every page moves on. */
  maxLineBytes?: number;
}

/** The largest BACKEND_EVENT_MAX_BYTES: no record this server wrote is longer. */
export const PAGE_MAX_LINE_BYTES = 1024 * 1024;
export const PAGE_SCAN_BYTES = 4 * 1024 * 1024;

/** Reads one page of `path` backwards (missing file: an empty page). Lines that are not JSON objects are skipped. */
export async function readLogPage(path: string, query: LogPageQuery, options: LogPageOptions = {}): Promise<LogPage> {
  const scanBytes = options.scanBytes ?? PAGE_SCAN_BYTES;
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { lines: [], next: null };
    throw err;
  }
  try {
    const size = (await handle.stat()).size;
    const from = query.before === null ? size : Math.min(query.before, size);
    const maxLineBytes = Math.min(options.maxLineBytes ?? PAGE_MAX_LINE_BYTES, Math.floor(scanBytes / 2));
    const reader = readLinesBackward(handle, from, { chunkBytes: options.chunkBytes, maxLineBytes, maxReadBytes: scanBytes });
    const lines: string[] = [];
    // Stepped by hand: what the reader returns is where the next page starts, which for-await drops.
    for (;;) {
      const step = await reader.next();
      if (step.done) return { lines, next: step.value };
      // An unterminated line is one still being written, or the back of one when a rotated file is
      // paged with an old cursor; a line too long was never held.
      const line = step.value;
      if (!line.terminated || line.bytes === null) continue;
      const text = line.bytes.toString('utf8');
      const record = parseJsonObject(text);
      if (!record || !query.accept(record)) continue;
      lines.push(text);
      // Nothing is older than the file's first line.
      if (lines.length >= query.limit) return { lines, next: line.start > 0 ? line.start : null };
    }
  } finally {
    await handle.close();
  }
}
