/**
 * The fast path of POST /behavior/analyze: decodes the agents' body
 *   {"frames": [{"index": 0, "features": [f0, f1, ...]}, ...]}
 * straight from the request bytes into one Float32Array, without building thousands of JS
 * numbers and arrays first (JSON.parse plus the copy cost as much main-thread CPU as the
 * inference itself). Anything it does not recognise as a fully valid window — other keys,
 * strings, escapes, wrong counts, non-finite values, broken JSON — makes it return undefined,
 * and the general path (JSON.parse + schema + domain checks) answers with the exact error.
 *
 * Values equal what the general path stores bit for bit: JSON.parse's correctly rounded double
 * rounded again to float32. Each number is computed in double precision, and when that double
 * lies too close to a float32 rounding boundary to be sure, the number is re-read with parseFloat.
 */
import { PackedWindow, type WindowShape } from './analysis.js';

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i); // exact in double up to 1e22
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** Spacing of float32 values by biased exponent (subnormals share exponent 1's spacing). */
const FLOAT32_ULP = Float64Array.from({ length: 256 }, (_, biased) => 2 ** ((biased === 0 ? 1 : biased) - 150));
/** How close to a midpoint (in ulps) is too close to trust a double carrying a few ulps of error. */
const TIE_ZONE = 0.5 - 2 ** -24;

const enum Ch {
  Quote = 34, Comma = 44, Minus = 45, Plus = 43, Dot = 46, Zero = 48, Nine = 57, Colon = 58,
  LowerE = 101, UpperE = 69, OpenBracket = 91, CloseBracket = 93, OpenBrace = 123, CloseBrace = 125,
  LowerN = 110,
}

const BAIL = Symbol('bail');

class Scanner {
  pos = 0;
  constructor(readonly b: Buffer) {}

  ws(): void {
    const b = this.b;
    let p = this.pos;
    while (p < b.length) {
      const c = b[p]!;
      if (c !== 32 && c !== 10 && c !== 13 && c !== 9) break;
      p++;
    }
    this.pos = p;
  }

  /** Consumes `ch` (after whitespace) or bails. */
  expect(ch: number): void {
    this.ws();
    if (this.b[this.pos] !== ch) throw BAIL;
    this.pos++;
  }

  /** Consumes `ch` if it is next (after whitespace). */
  accept(ch: number): boolean {
    this.ws();
    if (this.b[this.pos] !== ch) return false;
    this.pos++;
    return true;
  }

  /** A plain ASCII key without escapes; anything else bails. */
  key(): string {
    this.expect(Ch.Quote);
    const start = this.pos;
    const b = this.b;
    while (this.pos < b.length) {
      const c = b[this.pos]!;
      if (c === Ch.Quote) {
        const key = b.toString('latin1', start, this.pos);
        this.pos++;
        this.expect(Ch.Colon);
        return key;
      }
      if (c === 92 || c < 32 || c > 126) throw BAIL;
      this.pos++;
    }
    throw BAIL;
  }

  /** A JSON number, strictly per the grammar; returns the double JSON.parse would give. */
  number(): number {
    this.ws();
    const b = this.b;
    const start = this.pos;
    let p = start;
    let negative = false;
    if (b[p] === Ch.Minus) {
      negative = true;
      p++;
    }
    // Digits are folded into one double; `(b[p] | 0) - 48` is a digit when it is 0..9 as unsigned
    // (the `| 0` makes a read past the end a non-digit instead of NaN).
    let mantissa = 0;
    let exp10 = 0;
    let d = (b[p]! | 0) - Ch.Zero;
    const intStart = p;
    if (d === 0) {
      d = (b[++p]! | 0) - Ch.Zero;
    } else if (d >>> 0 <= 9) {
      do {
        mantissa = mantissa * 10 + d;
        d = (b[++p]! | 0) - Ch.Zero;
      } while (d >>> 0 <= 9);
    } else throw BAIL;
    const intIsZero = mantissa === 0;
    const intDigits = p - intStart;
    let fracStart = p;
    if (b[p] === Ch.Dot) {
      fracStart = ++p;
      d = (b[p]! | 0) - Ch.Zero;
      if (d >>> 0 > 9) throw BAIL;
      do {
        mantissa = mantissa * 10 + d;
        d = (b[++p]! | 0) - Ch.Zero;
      } while (d >>> 0 <= 9);
      exp10 = fracStart - p;
    }
    const fracDigits = p - fracStart;
    let c = b[p]!;
    if (c === Ch.LowerE || c === Ch.UpperE) {
      c = b[++p]!;
      let expNegative = false;
      if (c === Ch.Minus || c === Ch.Plus) {
        expNegative = c === Ch.Minus;
        c = b[++p]!;
      }
      if (!(c >= Ch.Zero && c <= Ch.Nine)) throw BAIL;
      let e = 0;
      while (c >= Ch.Zero && c <= Ch.Nine) {
        if (e < 100_000) e = e * 10 + (c - Ch.Zero);
        c = b[++p]!;
      }
      exp10 += expNegative ? -e : e;
    }
    this.pos = p;
    // Significant digits (an upper bound is enough: it only selects the careful paths below).
    const digits = intIsZero ? (fracDigits > 15 ? fracDigits - leadingZeros(b, fracStart, p) : fracDigits) : intDigits + fracDigits;
    // Beyond 19 significant digits or 1e±22 the double arithmetic below is not tight enough.
    if (digits > 19 || exp10 > 22 || exp10 < -22) return Number(b.toString('latin1', start, p));
    const magnitude = exp10 >= 0 ? mantissa * POW10[exp10]! : mantissa / POW10[-exp10]!;
    // Up to 15 digits the mantissa and 10^k are exact, so the one rounding above is JSON.parse's.
    if (digits > 15 && nearFloat32Tie(magnitude)) return Number(b.toString('latin1', start, p));
    return negative ? -magnitude : magnitude;
  }

  /** An integer or null (the optional `index`). */
  indexValue(): void {
    this.ws();
    if (this.b[this.pos] === Ch.LowerN) {
      if (this.b.toString('latin1', this.pos, this.pos + 4) !== 'null') throw BAIL;
      this.pos += 4;
      return;
    }
    if (!Number.isInteger(this.number())) throw BAIL;
  }
}

/**
 * True when `x` (within a few double ulps of the correctly rounded value) is so close to a
 * float32 rounding midpoint that Math.fround could round it the other way.
 */
function nearFloat32Tie(x: number): boolean {
  f32[0] = x;
  const bits = u32[0]!;
  const biased = (bits >>> 23) & 0xff;
  if (biased === 0xff) return true; // overflow to Infinity: let the slow path decide
  let ulp = FLOAT32_ULP[biased]!;
  // Just under a power of two the spacing below f is half the spacing above it.
  if ((bits & 0x7fffff) === 0 && biased > 1 && x < f32[0]!) ulp /= 2;
  return Math.abs(x - f32[0]!) >= ulp * TIE_ZONE;
}

function leadingZeros(b: Buffer, from: number, to: number): number {
  let i = from;
  while (i < to && b[i] === Ch.Zero) i++;
  return i - from;
}

/** The windows the fast decoder takes: one feature count, and the frame counts of the served models (0 = any count). */
export interface BodyShape {
  featureDim: number;
  windowSizes: readonly number[];
}

/**
 * Builds the fast decoder for a model set's shape (or one model's). A body whose frame count no
 * model of the set takes bails to the general path, which answers the exact 422.
 */
export function createAnalyzeBodyParser(shape: BodyShape | WindowShape): (bytes: Buffer) => PackedWindow | undefined {
  const dim = shape.featureDim;
  const sizes = 'windowSizes' in shape ? shape.windowSizes : [shape.windowSize];
  const anyCount = sizes.includes(0);
  // Ascending: the buffer starts at the smallest window and grows to the next one, so a body of a
  // served window length is decoded into a buffer of exactly its size.
  const windows = [...new Set(sizes.filter((n) => n > 0))].sort((a, b) => a - b);
  return (bytes) => {
    try {
      return decode(new Scanner(bytes), dim, windows, anyCount);
    } catch (err) {
      if (err === BAIL) return undefined;
      throw err;
    }
  };
}

function decode(s: Scanner, dim: number, windows: readonly number[], anyCount: boolean): PackedWindow {
  s.expect(Ch.OpenBrace);
  if (s.key() !== 'frames') throw BAIL;
  s.expect(Ch.OpenBracket);
  let next = 0; // index in `windows` of the next size to grow to
  let capacity = windows.length > 0 ? windows[next++]! : 64;
  let data = new Float32Array(capacity * dim);
  let frames = 0;
  if (!s.accept(Ch.CloseBracket)) {
    do {
      if (frames === capacity) {
        // More frames than this size: the next served window, else (window-0 models) double.
        if (next < windows.length) capacity = windows[next++]!;
        else if (anyCount) capacity *= 2;
        else throw BAIL; // too many frames for any model: the general path reports it
        const grown = new Float32Array(capacity * dim);
        grown.set(data);
        data = grown;
      }
      decodeFrame(s, data, frames * dim, dim);
      frames++;
    } while (s.accept(Ch.Comma));
    s.expect(Ch.CloseBracket);
  }
  s.expect(Ch.CloseBrace);
  s.ws();
  if (s.pos !== s.b.length) throw BAIL;
  if (frames === 0 || (!anyCount && !windows.includes(frames))) throw BAIL;
  return new PackedWindow(frames, frames === capacity ? data : data.subarray(0, frames * dim));
}

function decodeFrame(s: Scanner, data: Float32Array, offset: number, dim: number): void {
  s.expect(Ch.OpenBrace);
  let sawFeatures = false;
  let sawIndex = false;
  do {
    const key = s.key();
    if (key === 'features' && !sawFeatures) {
      sawFeatures = true;
      s.expect(Ch.OpenBracket);
      let n = 0;
      do {
        if (n === dim) throw BAIL;
        data[offset + n] = s.number();
        if (!Number.isFinite(data[offset + n++]!)) throw BAIL; // out of float32 range included
      } while (s.accept(Ch.Comma));
      s.expect(Ch.CloseBracket);
      if (n !== dim) throw BAIL;
    } else if (key === 'index' && !sawIndex) {
      sawIndex = true;
      s.indexValue();
    } else throw BAIL;
  } while (s.accept(Ch.Comma));
  s.expect(Ch.CloseBrace);
  if (!sawFeatures) throw BAIL;
}
