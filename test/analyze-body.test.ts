import t from 'tap';
import { createAnalyzeBodyParser } from '../src/inference/analyze-body.js';
import { packWindow } from '../src/inference/analysis.js';
import { Rng } from '../src/features/synthetic-pose/rng.js';

const shape = { featureDim: 7, windowSize: 3 };
const parse = createAnalyzeBodyParser(shape);

/** The general path: JSON.parse, then the same packing the route does for a schema-valid body. */
function generalPath(text: string) {
  return packWindow(JSON.parse(text), shape);
}

/** Numbers in the forms agents and JSON produce, plus values sitting on float32 rounding ties. */
function numberText(rng: Rng): string {
  const f32 = new Float32Array(2);
  switch (Math.floor(rng.next() * 7)) {
    case 0: return JSON.stringify((rng.next() - 0.5) * 20); // full-precision double, as Python's repr writes them
    case 1: return String(Math.floor((rng.next() - 0.5) * 1000)); // integers
    case 2: return ((rng.next() - 0.5) * 10).toExponential(Math.floor(rng.next() * 17)); // exponents
    case 3: return `${(rng.next() * 9).toFixed(3)}E-${Math.floor(rng.next() * 30)}`; // small, past 1e-22
    case 4: { // exactly halfway between two float32 values: the double-rounding trap
      f32[0] = (rng.next() - 0.5) * 8;
      const a = f32[0]!;
      const up = new Float32Array([a]);
      new Uint32Array(up.buffer)[0]! += 1;
      return String((a + up[0]!) / 2);
    }
    case 5: return String(2 ** Math.floor(rng.next() * 20 - 10) * (1 - 2 ** -30)); // just under a power of two
    default: return rng.next() < 0.5 ? '0' : '-0.0';
  }
}

function randomBody(rng: Rng): string {
  const frames = Array.from({ length: shape.windowSize }, (_, i) => {
    const features = Array.from({ length: shape.featureDim }, () => numberText(rng)).join(rng.next() < 0.5 ? ',' : ' , ');
    const index = rng.next() < 0.2 ? 'null' : String(i);
    return rng.next() < 0.5 ? `{"index": ${index}, "features": [${features}]}` : `{"features":[${features}]}`;
  });
  return `{"frames": [${frames.join(',\n ')}]}`;
}

t.test('decodes bodies bit for bit like JSON.parse + Float32Array', async (t) => {
  const rng = new Rng(12345);
  let compared = 0;
  for (let i = 0; i < 3000; i++) {
    const text = randomBody(rng);
    const fast = parse(Buffer.from(text));
    const slow = generalPath(text);
    if (!fast) {
      t.fail(`fast path refused a valid body: ${text.slice(0, 200)}`);
      continue;
    }
    t.equal(fast.frames, slow.frames);
    const a = new Uint32Array(fast.data.buffer, fast.data.byteOffset, fast.data.length);
    const b = new Uint32Array(slow.data.buffer, slow.data.byteOffset, slow.data.length);
    const firstDiff = a.findIndex((v, k) => v !== b[k]);
    if (firstDiff !== -1) t.fail(`value ${firstDiff} differs: ${fast.data[firstDiff]} vs ${slow.data[firstDiff]} in ${text}`);
    compared += a.length;
  }
  t.equal(compared, 3000 * shape.windowSize * shape.featureDim);
});

t.test('hands every unusual or invalid body to the general path', async (t) => {
  const row = (n: number) => `[${Array.from({ length: n }, (_, i) => i / 10).join(',')}]`;
  const ok = (frames: string[]) => `{"frames":[${frames.join(',')}]}`;
  const good = ok([`{"features":${row(7)}}`, `{"features":${row(7)}}`, `{"features":${row(7)}}`]);
  t.ok(parse(Buffer.from(good)), 'a plain valid body is decoded');
  const refused: Record<string, string> = {
    'too few frames': ok([`{"features":${row(7)}}`]),
    'too many frames': ok(Array(4).fill(`{"features":${row(7)}}`)),
    'short feature vector': ok([`{"features":${row(6)}}`, `{"features":${row(7)}}`, `{"features":${row(7)}}`]),
    'long feature vector': ok([`{"features":${row(8)}}`, `{"features":${row(7)}}`, `{"features":${row(7)}}`]),
    'string feature': ok([`{"features":["1",2,3,4,5,6,7]}`, `{"features":${row(7)}}`, `{"features":${row(7)}}`]),
    'non-finite': ok([`{"features":[1e999,2,3,4,5,6,7]}`, `{"features":${row(7)}}`, `{"features":${row(7)}}`]),
    'NaN literal': ok([`{"features":[NaN,2,3,4,5,6,7]}`, `{"features":${row(7)}}`, `{"features":${row(7)}}`]),
    'leading zero': ok([`{"features":[01,2,3,4,5,6,7]}`, `{"features":${row(7)}}`, `{"features":${row(7)}}`]),
    'fractional index': ok([`{"index":1.5,"features":${row(7)}}`, `{"features":${row(7)}}`, `{"features":${row(7)}}`]),
    'unknown frame key': ok([`{"ts":1,"features":${row(7)}}`, `{"features":${row(7)}}`, `{"features":${row(7)}}`]),
    'unknown top key': `{"camera":"x","frames":[]}`,
    'escaped key': `{"fr\\u0061mes":[]}`,
    'missing features': ok([`{"index":1}`, `{"features":${row(7)}}`, `{"features":${row(7)}}`]),
    'trailing garbage': `${good} x`,
    'truncated': good.slice(0, -3),
    'empty': '',
    'array root': `[${good}]`,
  };
  for (const [what, text] of Object.entries(refused)) t.equal(parse(Buffer.from(text)), undefined, what);
});
