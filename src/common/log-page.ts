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

const NEWLINE = 0x0a;

/** Reads one page of `path` backwards (missing file: an empty page). Lines that are not JSON objects are skipped. */
export async function readLogPage(path: string, query: LogPageQuery, options: LogPageOptions = {}): Promise<LogPage> {
  const chunkBytes = options.chunkBytes ?? 64 * 1024;
  const scanBytes = options.scanBytes ?? PAGE_SCAN_BYTES;
  const maxLineBytes = Math.min(options.maxLineBytes ?? PAGE_MAX_LINE_BYTES, Math.floor(scanBytes / 2));
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
    const lines: string[] = [];
    let pos = from;
    /** Bytes below the lowest newline found so far (their line starts further back), held across chunks. */
    let partial: Buffer = Buffer.alloc(0);
    /**
     * Just past the newline that ends the line in `partial`: where a stopped page resumes. Null while
     * `partial` is no line to keep: before the first newline (a line still being written, or the
     * middle of one when a rotated file is paged with an old cursor), or a line too long to hold.
     */
    let pendingEnd: number | null = null;

    while (pos > 0) {
      if (lines.length >= query.limit || from - pos >= scanBytes) return { lines, next: pendingEnd ?? pos };
      const length = Math.min(chunkBytes, pos);
      pos -= length;
      const chunk = Buffer.allocUnsafe(length);
      await readFully(handle, chunk, pos);
      const buf = partial.length ? Buffer.concat([chunk, partial]) : chunk;
      let end = buf.length;
      for (let i = buf.length - 1; i >= 0; i--) {
        if (buf[i] !== NEWLINE) continue;
        if (pendingEnd !== null) {
          const line = takeLine(buf.subarray(i + 1, end), query);
          if (line !== null) lines.push(line);
          if (lines.length >= query.limit) return { lines, next: pos + i + 1 };
        }
        pendingEnd = pos + i + 1;
        end = i;
      }
      if (end > maxLineBytes) {
        pendingEnd = null;
        partial = Buffer.alloc(0);
      } else {
        partial = Buffer.from(buf.subarray(0, end));
      }
    }
    // The file's first line has no newline before it.
    if (pendingEnd !== null) {
      const line = takeLine(partial, query);
      if (line !== null) lines.push(line);
    }
    return { lines, next: null };
  } finally {
    await handle.close();
  }
}

function takeLine(bytes: Buffer, query: LogPageQuery): string | null {
  if (bytes.length === 0) return null;
  const text = bytes.toString('utf8');
  const record = parseJsonObject(text);
  return record && query.accept(record) ? text : null;
}

async function readFully(handle: FileHandle, into: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await handle.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new Error(`the file shrank while a page was read, at byte ${position + done}`);
    done += bytesRead;
  }
}
