/**
 * Reusable buffers for request bodies. An agent's 54 KB window arrives many times a second per
 * camera; allocating a fresh buffer for each one is mostly work for the garbage collector. A body
 * is decoded as soon as its last byte arrives and its buffer comes straight back here.
 */
export class BodyBuffers {
  private readonly free: Buffer[] = [];
  private slabs = 0;

  /** `slabBytes`: size of a pooled buffer (larger bodies get their own); `maxPooled`: buffers kept. */
  constructor(private readonly slabBytes: number, private readonly maxPooled: number) {}

  /** A buffer of at least `size` bytes; give it back with release() once the body is decoded. */
  acquire(size: number): Buffer {
    const slab = size <= this.slabBytes ? this.free.pop() : undefined;
    if (slab) return slab;
    // Past `maxPooled` bodies in flight at once, each gets a buffer of its own size.
    if (size > this.slabBytes || this.slabs >= this.maxPooled) return Buffer.allocUnsafeSlow(size);
    this.slabs++;
    return Buffer.allocUnsafeSlow(this.slabBytes);
  }

  release(buffer: Buffer): void {
    if (buffer.length === this.slabBytes && this.free.length < this.maxPooled) this.free.push(buffer);
  }
}
