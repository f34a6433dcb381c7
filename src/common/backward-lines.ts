/**
 * A file's lines read backwards from a byte offset, newest first, a chunk at a time, so a large
 * JSONL log costs only the part of it that is asked for: its tail (log-tail.ts) and its older
 * pages (log-page.ts).
 */
import type { FileHandle } from 'node:fs/promises';

export interface BackwardLine {
  /** Offset of the line's first byte. */
  start: number;
  /** Offset just past its last byte: where its newline is, or the offset the read began at. */
  end: number;
  /** The line without its newline; null when it is longer than maxLineBytes (its bytes were never held). */
  bytes: Buffer | null;
  /**
   * False only for the first line handed out, always: the text between the last newline and the
   * offset the read began at. Empty when the read began at a line's start; otherwise a line cut
   * short or still being written, or the back of a line when the read began inside one.
   */
  terminated: boolean;
}

export interface BackwardLinesOptions {
  /** Bytes per read; 64 KiB unless given. */
  chunkBytes?: number;
  /** A longer line is handed out with `bytes: null` rather than held in memory. */
  maxLineBytes: number;
  /** Stop before reading another chunk once this many bytes were read; no bound unless given. */
  maxReadBytes?: number;
}

const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

/**
 * Yields the lines that end at or before `end`, newest first; a line's start is the byte after a
 * newline, or the file's start. Returns null once the file's start is reached, or, when stopped by
 * maxReadBytes, the offset a later read carries on from: just past the lowest newline found, or
 * the lowest byte read when none was found or the line below it is too long (so it always moves on).
 */
export async function* readLinesBackward(handle: FileHandle, end: number, options: BackwardLinesOptions): AsyncGenerator<BackwardLine, number | null> {
  const chunkBytes = options.chunkBytes ?? 64 * 1024;
  const maxReadBytes = options.maxReadBytes ?? Infinity;
  let pos = end;
  /** Where the line below the lowest newline found ends (at that newline), or `end` before any. */
  let lineEnd = end;
  let terminated = false;
  /**
   * That line's bytes read so far, in file order, joined once its start is found (joining at each
   * chunk would copy a long line over and over). They hold no newline, so only new chunks are searched.
   */
  let held: Buffer[] = [];
  /** That line is over maxLineBytes: its bytes are dropped until its start is found. */
  let tooLong = false;

  while (pos > 0) {
    if (end - pos >= maxReadBytes) return terminated && !tooLong ? lineEnd + 1 : pos;
    const length = Math.min(chunkBytes, pos);
    pos -= length;
    const chunk = Buffer.allocUnsafe(length);
    await readFully(handle, chunk, pos);
    let below = length;
    let newline: number;
    // lastIndexOf from -1 would search from the end again, hence below > 0.
    while (below > 0 && (newline = chunk.lastIndexOf(NEWLINE, below - 1)) >= 0) {
      const start = pos + newline + 1;
      const long = tooLong || lineEnd - start > options.maxLineBytes;
      yield { start, end: lineEnd, bytes: long ? null : joined(chunk.subarray(newline + 1, below), held), terminated };
      lineEnd = pos + newline;
      terminated = true;
      tooLong = false;
      held = [];
      below = newline;
    }
    if (!tooLong && lineEnd - pos > options.maxLineBytes) {
      tooLong = true;
      held = [];
    }
    // A copy of a chunk's last few bytes, so they do not keep the whole chunk alive.
    if (!tooLong && below > 0) held.unshift(below === length ? chunk : Buffer.from(chunk.subarray(0, below)));
  }
  yield { start: 0, end: lineEnd, bytes: tooLong ? null : Buffer.concat(held), terminated };
  return null;
}

function joined(first: Buffer, rest: Buffer[]): Buffer {
  return rest.length ? Buffer.concat([first, ...rest]) : first;
}

async function readFully(handle: FileHandle, into: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await handle.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new Error(`the file shrank while it was read backwards, at byte ${position + done}`);
    done += bytesRead;
  }
}
