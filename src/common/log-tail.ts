/**
 * The last lines of a JSONL file, read backwards in chunks so a large log costs only its tail.
 * Shared by the recent-events refill (writer thread) and the `events` CLI.
 */
import { open } from 'node:fs/promises';
import { parseJsonObject } from './parse-json-object.js';

export interface LogTail {
  /** Complete lines, oldest first, at most the number asked for; blank lines skipped. */
  lines: string[];
  /** A last line cut short (no newline, not valid JSON): skipped; where it starts and how long it is. */
  torn: { offset: number; bytes: number } | null;
  /** The last line is a complete record that only lacks its newline (the file was edited by hand). */
  unterminated: boolean;
  /** Lines skipped because they were longer than maxLineBytes. */
  oversized: number;
}

/** The tail of a log that has no lines (missing, unreadable, or no file at all). */
export function emptyLogTail(): LogTail {
  return { lines: [], torn: null, unterminated: false, oversized: 0 };
}

export interface TailOptions {
  chunkBytes?: number;
  /** A line longer than this is skipped rather than held in memory. */
  maxLineBytes?: number;
}

const NEWLINE = 0x0a;

/** Reads the last `maxLines` lines of `path` (missing file: none). A torn last line is reported, never thrown. */
export async function readLogTail(path: string, maxLines: number, options: TailOptions = {}): Promise<LogTail> {
  const chunkBytes = options.chunkBytes ?? 64 * 1024;
  const maxLineBytes = options.maxLineBytes ?? 16 * 1024 * 1024;
  const result = emptyLogTail();
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return result;
    throw err;
  }
  try {
    const size = (await handle.stat()).size;
    const newestFirst: string[] = [];
    let pos = size;
    // Bytes of a line whose start lies in an earlier chunk; a newline never occurs inside a UTF-8 sequence.
    let partial: Buffer = Buffer.alloc(0);
    let skippingLongLine = false;
    let atFileEnd = true; // the next segment found is the one after the file's last newline

    const takeSegment = (segment: Buffer, startOffset: number) => {
      if (atFileEnd) {
        atFileEnd = false;
        if (segment.length === 0) return;
        const text = segment.toString('utf8');
        if (parseJsonObject(text)) {
          result.unterminated = true;
          newestFirst.push(text);
        } else {
          result.torn = { offset: startOffset, bytes: segment.length };
        }
        return;
      }
      if (segment.length === 0 || newestFirst.length >= maxLines) return;
      const text = segment.toString('utf8');
      if (text.trim()) newestFirst.push(text);
    };

    // An over-long last line without its newline is torn as far as appending is concerned.
    const skipLongLine = (startOffset: number) => {
      if (atFileEnd) result.torn = { offset: startOffset, bytes: size - startOffset };
      else result.oversized += 1;
      atFileEnd = false;
    };

    while (pos > 0 && (atFileEnd || newestFirst.length < maxLines)) {
      const length = Math.min(chunkBytes, pos);
      pos -= length;
      const chunk = Buffer.allocUnsafe(length);
      await readFully(handle, chunk, pos);
      const buf = partial.length ? Buffer.concat([chunk, partial]) : chunk;
      let end = buf.length;
      for (let i = buf.length - 1; i >= 0; i--) {
        if (buf[i] !== NEWLINE) continue;
        if (skippingLongLine) {
          skippingLongLine = false;
          skipLongLine(pos + i + 1);
        } else {
          takeSegment(buf.subarray(i + 1, end), pos + i + 1);
        }
        end = i;
        if (!atFileEnd && newestFirst.length >= maxLines) break;
      }
      partial = Buffer.from(buf.subarray(0, end));
      if (partial.length > maxLineBytes) {
        skippingLongLine = true;
        partial = Buffer.alloc(0);
      }
    }
    if (pos === 0 && (atFileEnd || newestFirst.length < maxLines)) {
      if (skippingLongLine) skipLongLine(0);
      else takeSegment(partial, 0);
    }
    result.lines = newestFirst.slice(0, Math.max(0, maxLines)).reverse();
    return result;
  } finally {
    await handle.close();
  }
}

async function readFully(handle: import('node:fs/promises').FileHandle, into: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await handle.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new Error(`file shrank while reading its tail at byte ${position + done}`);
    done += bytesRead;
  }
}
