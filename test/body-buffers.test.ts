/**
 * The pool of request-body buffers: bodies up to the slab size reuse pooled buffers, larger ones
 * get their own, and no more than `maxPooled` slabs are ever made or kept.
 */
import t from 'tap';
import { BodyBuffers } from '../src/http/body-buffers.js';

const SLAB = 1024;

t.test('a small body gets a slab, and the same slab again once released', async (t) => {
  const pool = new BodyBuffers(SLAB, 2);
  const first = pool.acquire(100);
  t.equal(first.length, SLAB, 'a whole slab, whatever the body\'s size');
  pool.release(first);
  t.equal(pool.acquire(SLAB), first, 'the released slab is reused (a body of exactly the slab size fits)');
});

t.test('a body over the slab size gets a buffer of its own size, never pooled', async (t) => {
  const pool = new BodyBuffers(SLAB, 2);
  const big = pool.acquire(SLAB + 1);
  t.equal(big.length, SLAB + 1);
  pool.release(big);
  const next = pool.acquire(10);
  t.not(next, big, 'the large buffer did not go into the pool');
  t.equal(next.length, SLAB);
});

t.test('past maxPooled bodies in flight, each gets a buffer of its own size', async (t) => {
  const pool = new BodyBuffers(SLAB, 2);
  const [a, b, c] = [pool.acquire(10), pool.acquire(20), pool.acquire(30)];
  t.same([a.length, b.length, c.length], [SLAB, SLAB, 30], 'two slabs, then an exact-size buffer');
  for (const buffer of [a, b, c]) pool.release(buffer);
  const again = [pool.acquire(10), pool.acquire(20), pool.acquire(30)];
  t.ok(again[0] === b && again[1] === a, 'the two slabs come back (last released first)');
  t.equal(again[2]!.length, 30, 'no third slab is ever made');
  t.not(again[2], c);
});

t.test('the free list holds at most maxPooled buffers', async (t) => {
  const pool = new BodyBuffers(SLAB, 2);
  const returned: Buffer[] = [Buffer.alloc(SLAB), Buffer.alloc(SLAB), Buffer.alloc(SLAB)];
  for (const buffer of returned) pool.release(buffer);
  const taken = [pool.acquire(1), pool.acquire(1), pool.acquire(1)];
  t.ok(taken[0] === returned[1] && taken[1] === returned[0], 'the first two released are kept');
  t.notOk(returned.includes(taken[2]!), 'the third was dropped, not kept');
});

t.test('a buffer of another size is not pooled', async (t) => {
  const pool = new BodyBuffers(SLAB, 2);
  const odd = Buffer.alloc(SLAB - 1);
  pool.release(odd);
  t.not(pool.acquire(1), odd);
});
