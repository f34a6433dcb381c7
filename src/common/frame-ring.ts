/**
 * The last `capacity` frames of one stream, each `width` float32 values, kept in a ring so a
 * new frame costs one copy; window() lays them out oldest first for the batcher.
 */
export class FrameRing {
  private readonly values: Float32Array;
  private readonly frameIndexes: (number | null)[];
  private readonly times: number[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number, readonly width: number) {
    this.values = new Float32Array(capacity * width);
    this.frameIndexes = new Array(capacity).fill(null);
    this.times = new Array(capacity).fill(0);
  }

  get size(): number {
    return this.count;
  }

  push(frame: Float32Array, index: number | null, ts: number): void {
    this.values.set(frame, this.head * this.width);
    this.frameIndexes[this.head] = index;
    this.times[this.head] = ts;
    this.head = (this.head + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** The frames held, oldest first, as one new array (the batcher takes ownership). */
  window(): Float32Array {
    const out = new Float32Array(this.count * this.width);
    const start = (this.head - this.count + this.capacity) % this.capacity;
    const firstPart = Math.min(this.count, this.capacity - start);
    out.set(this.values.subarray(start * this.width, (start + firstPart) * this.width), 0);
    if (firstPart < this.count) out.set(this.values.subarray(0, (this.count - firstPart) * this.width), firstPart * this.width);
    return out;
  }

  /** The frames' indexes, oldest first (as window() lays the frames out). */
  indexes(): (number | null)[] {
    const start = this.head - this.count + this.capacity;
    return Array.from({ length: this.count }, (_, i) => this.frameIndexes[(start + i) % this.capacity]!);
  }

  /** Index and time of the newest frame. */
  newest(): { index: number | null; ts: number } {
    const last = (this.head - 1 + this.capacity) % this.capacity;
    return { index: this.frameIndexes[last]!, ts: this.times[last]! };
  }
}
