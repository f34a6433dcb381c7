/**
 * Reading a file's lines backwards: on real files, from every offset, with chunks small enough to
 * cut lines and multi-byte characters, against the lines a plain split finds.
 */
import { appendFileSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { readLinesBackward, type BackwardLine, type BackwardLinesOptions } from '../src/common/backward-lines.js';
import { tempDir } from './support/temp-dir.js';

const dir = tempDir();
let files = 0;
function file(content: string | Buffer): string {
  const path = join(dir, `f${files++}`);
  writeFileSync(path, content);
  return path;
}

interface Seen { start: number; end: number; text: string | null; terminated: boolean }
const seen = (line: BackwardLine): Seen => ({ start: line.start, end: line.end, text: line.bytes?.toString('utf8') ?? null, terminated: line.terminated });

/** Every line read from `end`, and what the read returned. */
async function readAll(path: string, end: number, options: BackwardLinesOptions): Promise<{ lines: Seen[]; resumeAt: number | null }> {
  const handle = await open(path, 'r');
  try {
    const reader = readLinesBackward(handle, end, options);
    const lines: Seen[] = [];
    for (;;) {
      const step = await reader.next();
      if (step.done) return { lines, resumeAt: step.value };
      lines.push(seen(step.value));
    }
  } finally {
    await handle.close();
  }
}

/** What the reader should hand out, from a plain split of the bytes before `end`. */
function expected(content: Buffer, end: number, maxLineBytes: number): Seen[] {
  const starts = [0];
  for (let i = 0; i < end; i++) if (content[i] === 0x0a) starts.push(i + 1);
  const lines: Seen[] = [];
  for (let k = starts.length - 1; k >= 0; k--) {
    const start = starts[k]!;
    const lineEnd = k === starts.length - 1 ? end : starts[k + 1]! - 1;
    const text = lineEnd - start > maxLineBytes ? null : content.subarray(start, lineEnd).toString('utf8');
    lines.push({ start, end: lineEnd, text, terminated: k < starts.length - 1 });
  }
  return lines;
}

const CONTENTS = [
  '{"a": 1}\n{"b": "낙상 가나다"}\n\n  \nplain text\n{"c": 3}\n',
  '\n\n{"first line empty": true}\n가\n{"last": "no newline"}',
  'one line, no newline',
  '',
];

t.test('every line newest first with its offsets, from any offset, whatever the chunk size', async (t) => {
  let reads = 0;
  for (const text of CONTENTS) {
    const content = Buffer.from(text);
    const path = file(content);
    for (let end = 0; end <= content.length; end++) {
      for (const chunkBytes of [1, 2, 3, 7, 64]) {
        const { lines, resumeAt } = await readAll(path, end, { chunkBytes, maxLineBytes: 1000 });
        t.same(lines, expected(content, end, 1000), `${JSON.stringify(text.slice(0, 12))} from ${end}, chunk ${chunkBytes}`, { diagnostic: false });
        t.equal(resumeAt, null, 'read to the file\'s start');
        reads++;
      }
    }
  }
  t.ok(reads > 400);
});

t.test('a line over maxLineBytes is handed out without its bytes, to the byte', async (t) => {
  const text = `${'a'.repeat(10)}\n${'b'.repeat(11)}\n${'가'.repeat(4)}\n${'c'.repeat(11)}`;
  const content = Buffer.from(text);
  const path = file(content);
  for (const chunkBytes of [1, 4, 10, 11, 12, 4096]) {
    const { lines } = await readAll(path, content.length, { chunkBytes, maxLineBytes: 10 });
    t.same(lines, expected(content, content.length, 10), `chunk ${chunkBytes}`);
    t.same(lines.map((line) => line.text), [null, null, null, 'a'.repeat(10)], '11 bytes (the unterminated last line too) and 12 bytes of 가 are over 10; 10 are not');
  }
});

t.test('maxReadBytes: reads stop early, and reads carried on from where they stop find every line once', async (t) => {
  const lines = Array.from({ length: 60 }, (_, i) => JSON.stringify({ i, note: `낙상 ${'가'.repeat(i % 9)}` }));
  const content = Buffer.from(`${lines.join('\n')}\n`);
  const path = file(content);
  const whole = expected(content, content.length, 1000).filter((line) => line.terminated);
  for (const [chunkBytes, maxReadBytes] of [[16, 200], [7, 64], [100, 100], [4096, 300]] as const) {
    const found: Seen[] = [];
    let end: number | null = content.length;
    let reads = 0;
    while (end !== null) {
      const read: { lines: Seen[]; resumeAt: number | null } = await readAll(path, end, { chunkBytes, maxReadBytes, maxLineBytes: Math.floor(maxReadBytes / 2) || 1 });
      reads++;
      if (read.resumeAt !== null) {
        t.ok(read.resumeAt < end, 'each read moves on', { diagnostic: false });
        t.ok(end - read.resumeAt <= maxReadBytes + chunkBytes, 'by no more than its bound and a chunk', { diagnostic: false });
      }
      found.push(...read.lines.filter((line) => line.terminated && line.text !== null));
      end = read.resumeAt;
    }
    const kept = whole.filter((line) => line.end - line.start <= (Math.floor(maxReadBytes / 2) || 1));
    t.same(found, kept, `chunk ${chunkBytes}, at most ${maxReadBytes} bytes a read: ${reads} reads`);
  }
});

t.test('a bounded read of 8 GiB without a newline stops at its bound', async (t) => {
  // An unbounded read would go through all 8 GiB looking for the start of the line.
  const path = file('');
  truncateSync(path, 8 * 1024 ** 3);
  appendFileSync(path, '{"last": 1}\n');
  const end = 8 * 1024 ** 3 + 12;
  const read = await readAll(path, end, { maxReadBytes: 1 << 20, maxLineBytes: 1 << 19 });
  t.same(read.lines, [{ start: end, end, text: '', terminated: false }], 'the empty text after the last newline; the line before it is not finished');
  t.equal(read.resumeAt, end - (1 << 20), 'carries on below what it read: the line there is too long to keep');
});
