/** Reading the last lines of a JSONL file backwards, on real files, with small chunks to cross their edges. */
import { appendFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readLogTail } from '../src/common/log-tail.js';

const dir = mkdtempSync(join(tmpdir(), 'log-tail-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(content: string): string {
  const path = join(dir, `f${n++}.jsonl`);
  writeFileSync(path, content);
  return path;
}

const line = (i: number) => JSON.stringify({ i, text: `이벤트 ${'가'.repeat(i % 7)} ${i}` });
const lines = (count: number) => Array.from({ length: count }, (_, i) => line(i));

t.test('the last N lines, oldest first, whatever the chunk size', async (t) => {
  const all = lines(500);
  const path = file(`${all.join('\n')}\n`);
  for (const chunkBytes of [1, 7, 64, 4096, 1 << 20]) {
    const tail = await readLogTail(path, 37, { chunkBytes });
    t.same(tail.lines, all.slice(-37), `chunk ${chunkBytes}`);
    t.equal(tail.torn, null);
    t.equal(tail.unterminated, false);
  }
  t.same((await readLogTail(path, 10_000, { chunkBytes: 100 })).lines, all, 'asking for more than there is gives all');
  t.same((await readLogTail(path, 0)).lines, []);
});

t.test('a torn last line is skipped and located', async (t) => {
  const all = lines(20);
  const good = `${all.join('\n')}\n`;
  const path = file(`${good}{"i": 20, "text": "cut he`);
  const tail = await readLogTail(path, 5, { chunkBytes: 16 });
  t.same(tail.lines, all.slice(-5));
  t.same(tail.torn, { offset: Buffer.byteLength(good), bytes: Buffer.byteLength('{"i": 20, "text": "cut he') });
});

t.test('a complete last record without its newline is kept and flagged', async (t) => {
  const all = lines(4);
  const tail = await readLogTail(file(all.join('\n')), 10, { chunkBytes: 5 });
  t.same(tail.lines, all);
  t.equal(tail.unterminated, true);
  t.equal(tail.torn, null);
});

t.test('a file that is one torn fragment', async (t) => {
  const tail = await readLogTail(file('{"timestamp": "2026-'), 10);
  t.same(tail.lines, []);
  t.same(tail.torn, { offset: 0, bytes: 20 });
});

t.test('blank lines are skipped; an empty or missing file has no lines', async (t) => {
  t.same((await readLogTail(file('\n{"a": 1}\n\n  \n{"b": 2}\n\n'), 10)).lines, ['{"a": 1}', '{"b": 2}']);
  t.same(await readLogTail(file(''), 10), { lines: [], torn: null, unterminated: false, oversized: 0 });
  t.same(await readLogTail(join(dir, 'missing.jsonl'), 10), { lines: [], torn: null, unterminated: false, oversized: 0 });
});

t.test('a line longer than the cap is skipped, not held', async (t) => {
  const long = JSON.stringify({ blob: 'x'.repeat(5000) });
  const path = file(`{"first": 1}\n${long}\n{"last": 1}\n`);
  const tail = await readLogTail(path, 10, { chunkBytes: 256, maxLineBytes: 1024 });
  t.same(tail.lines, ['{"first": 1}', '{"last": 1}']);
  t.equal(tail.oversized, 1);
});

t.test('only the tail is read: 8 GiB of sparse head cost nothing', async (t) => {
  // A whole-file read would need 8 GiB of memory; reading backwards touches one chunk.
  const path = join(dir, 'sparse.jsonl');
  writeFileSync(path, '');
  truncateSync(path, 8 * 1024 ** 3);
  appendFileSync(path, `\n${lines(5).join('\n')}\n`);
  const tail = await readLogTail(path, 5);
  t.same(tail.lines, lines(5));
});
