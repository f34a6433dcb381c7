/**
 * The last lines of a JSONL file, read backwards in chunks so a large log costs only its tail.
 * Shared by the recent-events refill (writer thread) and the `events` CLI.
 */
import { open } from 'node:fs/promises';
import { readLinesBackward } from './backward-lines.js';
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

/** Reads the last `maxLines` lines of `path` (missing file: none). A torn last line is reported, never thrown. */
export async function readLogTail(path: string, maxLines: number, options: TailOptions = {}): Promise<LogTail> {
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
    const lines = readLinesBackward(handle, size, { chunkBytes: options.chunkBytes, maxLineBytes: options.maxLineBytes ?? 16 * 1024 * 1024 });
    for await (const line of lines) {
      if (!line.terminated) {
        // The text after the last newline: a record missing only its newline, or a torn write to cut
        // off before appending (an over-long one too).
        const text = line.bytes?.toString('utf8');
        if (text !== undefined && parseJsonObject(text)) {
          result.unterminated = true;
          newestFirst.push(text);
        } else if (line.end > line.start) {
          result.torn = { offset: line.start, bytes: line.end - line.start };
        }
      } else if (line.bytes === null) {
        result.oversized += 1;
      } else {
        const text = line.bytes.toString('utf8');
        if (text.trim()) newestFirst.push(text);
      }
      if (newestFirst.length >= maxLines) break;
    }
    result.lines = newestFirst.slice(0, Math.max(0, maxLines)).reverse();
    return result;
  } finally {
    await handle.close();
  }
}
