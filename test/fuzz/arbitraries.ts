/**
 * Generators for fuzzing the server: odd JSON scalars (number spellings, unicode, huge strings),
 * deep nesting, valid requests of every route with structural mutations (extra keys with any
 * name, wrong types, deleted or duplicated keys), broken framing (truncation, trailing garbage,
 * invalid UTF-8), content types, methods and paths; stream messages, JSON and binary.
 *
 * Everything is built from fast-check combinators so that counterexamples shrink; large
 * repetitive values are drawn as (unit, count) pairs and only expanded when serialised.
 */
import fc from 'fast-check';
import { readModelMeta } from '../../src/common/model-meta.js';
import { BUNDLED_MODEL_PATH } from '../../src/common/paths.js';
import { KEYPOINT_COUNT, KEYPOINT_VALUES } from '../../src/features/pose-features.js';
import { encodeBinaryFrame } from '../../src/common/stream-frame-encoding.js';
import { Rng } from '../../src/features/synthetic-pose/rng.js';
import { arr, describeBytes, describeEnds, entry, obj, raw, serialize, visible, type JsonEntry, type JsonText } from './json-text.js';

const meta = readModelMeta(BUNDLED_MODEL_PATH);
export const WINDOW = meta.windowSize || 16;
export const DIM = meta.featureDim;

// ---- scalars ---------------------------------------------------------------------------------

/** Number spellings where parsers and float32 rounding disagree, overflow or underflow. */
export const SPECIAL_NUMBERS = [
  '0', '-0', '0.0', '-0.0', '0e0', '1E5', '1e+5', '1e-5', '2.5E-3',
  '1e308', '-1e308', '1.7976931348623157e308', '1.7976931348623159e308', '1e309', '-1e309',
  '1e-400', '-1e-400', '4.9e-324', '5e-324', '2e-324',
  '3.4028235e38', '3.4028234663852886e38', '3.4028235677973366e38', '3.5e38', '-3.5e38',
  '1.401298464324817e-45', '7.006492321624085e-46', '7.006492321624087e-46', '1e-46',
  '1.00000005960464477539', '1.000000059604644775390625', '1.0000000596046448', '0.100000001490116119384765625',
  '16777217', '9007199254740993', '123456789012345678901234567890', '0.1234567890123456789012345',
  `0.${'0'.repeat(300)}1`, `1${'0'.repeat(400)}`, `${'9'.repeat(400)}`, `-${'9'.repeat(30)}.${'9'.repeat(30)}e-40`,
  '1e99999999999', '1e-99999999999', '1.5', '-1.5', '2147483648', '4294967296', '-2147483649',
];

export const numberText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SPECIAL_NUMBERS) },
  { weight: 3, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)) },
  { weight: 2, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)) },
  { weight: 2, arbitrary: fc.integer().map(String) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        neg: fc.boolean(),
        int: fc.stringMatching(/^(0|[1-9][0-9]{0,30})$/),
        frac: fc.option(fc.stringMatching(/^[0-9]{1,40}$/), { nil: undefined }),
        exp: fc.option(fc.tuple(fc.constantFrom('e', 'E', 'e+', 'e-', 'E-'), fc.integer({ min: 0, max: 450 })), { nil: undefined }),
      })
      .map(({ neg, int, frac, exp }) => `${neg ? '-' : ''}${int}${frac !== undefined ? `.${frac}` : ''}${exp ? `${exp[0]}${exp[1]}` : ''}`),
  },
);

/** Texts that look like numbers to a lenient reader but are not JSON. */
export const notQuiteNumbers = fc.constantFrom('NaN', 'Infinity', '-Infinity', '+1', '01', '1.', '.5', '1e', '1e+', '0x10', '1_000', '- 1', '1.5.5', '--1');

/** A (unit × count) repetition, expanded lazily so that generation and shrinking stay cheap. */
export const repeated = (units: fc.Arbitrary<string>, counts: number[]) =>
  fc.record({ unit: units, count: fc.constantFrom(...counts) }).map(({ unit, count }) => unit.repeat(count));

const ODD_STRINGS = [
  '', '\u0000', 'a\u0000b', '\u202Eevil\u202C', '\u200F\u200E', '\uFEFF', '\uD800', '\uDC00', 'a\uDBFF', '\uDFFFz',
  '\uD83D\uDE00', '👩‍👩‍👧‍👦', '🏳️‍🌈', 'ﷺ', '̈̈̈̈̈̈', 'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǒ', '\u0085', '\u2028\u2029', '\\', '"', '\n\r\t',
  '</script><script>alert(1)</script>', '%00', '${jndi:ldap://x}', '__proto__', 'constructor', 'null', 'true', '0',
  'fall', 'END', 'START', 'PROBS', 'HEARTBEAT', 'cam-1',
];

/** A JS string chosen for trouble: control characters, lone surrogates, RTL marks, emoji, size. */
export const oddString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ODD_STRINGS) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: repeated(fc.constantFrom('a', '\u0000', '😀', '\uD800', 'ü', '"', 'ab'), [300, 5_000, 60_000]) },
);

/** The JSON text of a string: as JSON.stringify writes it, or with every character \u-escaped. */
export const stringText: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: oddString.map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: oddString.map((s) => `"${[...s].map((c) => [...c].map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')).join('')}"`) },
  { weight: 1, arbitrary: fc.constantFrom('"\\ud800"', '"\\udc00\\ud800"', '"\\u0000"', '"\\/"', '"\\uD83D\\uDE00"', '"\\uFFFF"', '"\\u0061"') },
);

/** Strings large enough to meet the body limit (1 MiB by default) or come near it. */
export const hugeStringText = repeated(fc.constantFrom('a', '\\u0000', '😀', 'é', ' '), [100_000, 300_000, 1_000_000]).map((s) => `"${s}"`);

export const scalarText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: numberText },
  { weight: 4, arbitrary: stringText },
  { weight: 2, arbitrary: fc.constantFrom('true', 'false', 'null') },
);

// ---- keys ------------------------------------------------------------------------------------

const INTERESTING_KEYS = [
  'data', '__proto__', 'constructor', 'prototype', 'frames', 'features', 'index', 'keypoints', 'type', 'stream_id',
  'toString', 'valueOf', 'hasOwnProperty', 'toJSON', 'then', 'length', '0', '', ' ', 'event', 'events', 'probs', 'ts',
  'text', 'limit', 'echo', 'detail', 'session_id', 'user_id', 'timestamp', 'event_type', 'window', 'stride',
];

/** A key's JSON text: interesting names (also \u-escaped) or any string. */
export const keyText: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...INTERESTING_KEYS).map((k) => JSON.stringify(k)) },
  { weight: 1, arbitrary: fc.constantFrom('"\\u005f_proto__"', '"fr\\u0061mes"', '"d\\u0061ta"', '"\\u0000"', '"\\ud800"') },
  { weight: 2, arbitrary: oddString.filter((s) => s.length < 200).map((s) => JSON.stringify(s)) },
);

// ---- structure -------------------------------------------------------------------------------

/** Thousands of `[` or `{"a":` (closed, or left open), as one text. */
export const nestingOf = (depths: number[]): fc.Arbitrary<JsonText> => fc
  .record({
    depth: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constantFrom(...depths)),
    open: fc.constantFrom('[', '{"a":', '{"__proto__":', '[{"data":', '{"frames":'),
    inner: fc.constantFrom('1', '"x"', 'null', '[]', '{}'),
    closed: fc.boolean(),
  })
  .map(({ depth, open, inner, closed }) => {
    const close = [...open].filter((c) => c === '[' || c === '{').reverse().map((c) => (c === '[' ? ']' : '}')).join('');
    return raw(open.repeat(depth) + inner + (closed ? close.repeat(depth) : close.repeat(Math.floor(depth / 2))));
  });

export const deepNesting = nestingOf([1_000, 3_000, 6_000, 10_000, 50_000, 100_000]);

/** Any JSON value as text, small, with odd scalars and keys. */
export const anyJson: fc.Arbitrary<JsonText> = fc.letrec<{ value: JsonText }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 6, arbitrary: scalarText.map(raw) },
    { weight: 2, arbitrary: fc.array(tie('value'), { maxLength: 5 }).map(arr) },
    { weight: 2, arbitrary: fc.array(fc.record({ key: keyText, value: tie('value') }), { maxLength: 5 }).map((es) => obj(es as JsonEntry[])) },
  ),
})).value;

/** A value put where another was expected: any JSON, a huge string, deep nesting, a bad number. */
export const strangeValue: fc.Arbitrary<JsonText> = fc.oneof(
  { weight: 8, arbitrary: anyJson },
  { weight: 1, arbitrary: hugeStringText.map(raw) },
  { weight: 2, arbitrary: deepNesting },
  // Long lists of small items (one text leaf: mutations do not descend into it).
  { weight: 1, arbitrary: fc.record({ units: fc.array(fc.constantFrom('""', '0', 'null', '[]', '{}', '"x"'), { minLength: 1, maxLength: 4 }), n: fc.constantFrom(1_000, 50_000, 150_000) }).map(({ units, n }) => raw(`[${Array.from({ length: n }, (_, i) => units[i % units.length]).join(',')}]`)) },
);

/** strangeValue for places with a small size limit (stream messages): nothing near 64 KiB. */
export const smallStrangeValue: fc.Arbitrary<JsonText> = fc.oneof(
  { weight: 8, arbitrary: anyJson.filter((j) => j.t !== 'raw' || j.text.length < 20_000) },
  { weight: 2, arbitrary: nestingOf([1_000, 3_000, 4_000, 8_000, 12_000, 30_000]) },
  { weight: 1, arbitrary: fc.record({ unit: fc.constantFrom('""', '0', 'null', '[]', '{}'), n: fc.constantFrom(100, 1_000, 5_000) }).map(({ unit, n }) => raw(`[${Array(n).fill(unit).join(',')}]`)) },
);

export type Mutation =
  | { kind: 'addKey'; at: number; key: string; value: JsonText }
  | { kind: 'replace'; at: number; value: JsonText }
  | { kind: 'delete'; at: number }
  | { kind: 'duplicate'; at: number }
  | { kind: 'wrap'; at: number; how: 'array' | 'object' };

export const mutationOf = (value: fc.Arbitrary<JsonText>): fc.Arbitrary<Mutation> => fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('addKey' as const), at: fc.nat(), key: keyText, value }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wrap' as const), at: fc.nat(), how: fc.constantFrom('array' as const, 'object' as const) }) },
);

export const mutation = mutationOf(strangeValue);

interface NodeRef {
  node: JsonText;
  parent: JsonText | null;
  slot: number;
  /** Where it is, for reports: `.frames[3].features[5]`. */
  path: string;
}

/** Nodes in pre-order; `at` picks one modulo the count, so mutations stay meaningful while shrinking. */
function nodes(root: JsonText): NodeRef[] {
  const out: NodeRef[] = [];
  const stack: NodeRef[] = [{ node: root, parent: null, slot: 0, path: '' }];
  while (stack.length) {
    const item = stack.pop()!;
    out.push(item);
    const n = item.node;
    if (n.t === 'arr') for (let i = n.items.length - 1; i >= 0; i--) stack.push({ node: n.items[i]!, parent: n, slot: i, path: `${item.path}[${i}]` });
    if (n.t === 'obj') for (let i = n.entries.length - 1; i >= 0; i--) stack.push({ node: n.entries[i]!.value, parent: n, slot: i, path: `${item.path}.${keyLabel(n.entries[i]!.key)}` });
  }
  return out;
}

function keyLabel(keyText: string): string {
  const label = visible(keyText.length > 40 ? `${keyText.slice(0, 37)}…"` : keyText);
  return /^"[A-Za-z_][A-Za-z0-9_]*"$/.test(label) ? label.slice(1, -1) : `[${label}]`;
}

function clone(n: JsonText): JsonText {
  if (n.t === 'raw') return n;
  if (n.t === 'arr') return arr(n.items.map(clone));
  return obj(n.entries.map((e) => ({ key: e.key, value: clone(e.value) })));
}

/** Applies mutations to a copy of `root`; the root itself can be replaced or wrapped. */
export function mutate(root: JsonText, mutations: readonly Mutation[]): JsonText {
  return mutateLogged(root, mutations).tree;
}

/** mutate, with a line per mutation applied saying what it did where (for reports). */
export function mutateLogged(root: JsonText, mutations: readonly Mutation[]): { tree: JsonText; log: string[] } {
  let tree = clone(root);
  const log: string[] = [];
  const short = (v: JsonText) => describeEnds(serialize(v), 160);
  const set = (parent: JsonText | null, slot: number, value: JsonText) => {
    if (!parent) tree = value;
    else if (parent.t === 'arr') parent.items[slot] = value;
    else if (parent.t === 'obj') parent.entries[slot]!.value = value;
  };
  for (const m of mutations) {
    const all = nodes(tree);
    if (m.kind === 'addKey') {
      const objects = all.filter((x) => x.node.t === 'obj');
      if (!objects.length) continue;
      const target = objects[m.at % objects.length]!;
      const entries = (target.node as Extract<JsonText, { t: 'obj' }>).entries;
      const at = m.at % (entries.length + 1);
      entries.splice(at, 0, { key: m.key, value: m.value });
      log.push(`add key ${visible(m.key)} to ${target.path || 'the top level'} (position ${at}) = ${short(m.value)}`);
      continue;
    }
    const pick = all[m.at % all.length]!;
    const where = pick.path || 'the whole body';
    switch (m.kind) {
      case 'replace':
        set(pick.parent, pick.slot, m.value);
        log.push(`replace ${where} with ${short(m.value)}`);
        break;
      case 'delete':
        if (pick.parent?.t === 'arr') pick.parent.items.splice(pick.slot, 1);
        else if (pick.parent?.t === 'obj') pick.parent.entries.splice(pick.slot, 1);
        else continue;
        log.push(`delete ${where}`);
        break;
      case 'duplicate':
        if (pick.parent?.t === 'arr') pick.parent.items.splice(pick.slot, 0, clone(pick.node));
        else if (pick.parent?.t === 'obj') pick.parent.entries.splice(pick.slot, 0, { key: pick.parent.entries[pick.slot]!.key, value: clone(pick.node) });
        else continue;
        log.push(`duplicate ${where}`);
        break;
      case 'wrap':
        set(pick.parent, pick.slot, m.how === 'array' ? arr([pick.node]) : obj([entry('value', pick.node)]));
        log.push(`wrap ${where} in ${m.how === 'array' ? '[…]' : '{"value": …}'}`);
        break;
    }
  }
  return { tree, log };
}

// ---- framing ---------------------------------------------------------------------------------

export type Framing =
  | { kind: 'none' }
  | { kind: 'truncate'; keep: number }
  | { kind: 'trailing'; text: string }
  | { kind: 'prefix'; text: string }
  | { kind: 'bytes'; at: number; bytes: readonly number[] }
  | { kind: 'empty' };

export const framing: fc.Arbitrary<Framing> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), keep: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('trailing' as const), text: fc.constantFrom('x', ' ', '\n', '}', ']', ',', '{}', '\u0000', '//', '/* */', ' 1', '"', 'null', '\uFEFF') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('prefix' as const), text: fc.constantFrom('\uFEFF', ' ', '\t\r\n', '\u00a0', '\u0000', ')]}\'\n') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(), bytes: fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80], [0xf4, 0x90, 0x80, 0x80], [0x00]) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'empty' as const }) },
);

export function frame(text: string, f: Framing): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  switch (f.kind) {
    case 'none':
      return bytes;
    case 'empty':
      return Buffer.alloc(0);
    case 'truncate':
      return bytes.subarray(0, Math.floor(bytes.length * f.keep));
    case 'trailing':
      return Buffer.concat([bytes, Buffer.from(f.text)]);
    case 'prefix':
      return Buffer.concat([Buffer.from(f.text), bytes]);
    case 'bytes': {
      const at = bytes.length ? f.at % bytes.length : 0;
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(f.bytes), bytes.subarray(at)]);
    }
  }
}

// ---- route bodies ----------------------------------------------------------------------------

/** A valid analyze window: WINDOW × DIM numbers drawn from a small pool of spellings. */
export interface WindowSpec {
  pool: string[];
  seed: number;
  frames: number;
  dim: number;
  index: 'none' | 'seq' | 'null' | 'odd';
  indexPool: string[];
  featuresFirst: boolean;
  space: string;
}

export const windowSpec = (opts: { exactShape?: boolean } = {}): fc.Arbitrary<WindowSpec> =>
  fc.record({
    pool: fc.array(fc.oneof({ weight: 1, arbitrary: numberText }, { weight: 3, arbitrary: fc.double({ min: -3, max: 3, noNaN: true }).map((x) => JSON.stringify(x)) }), { minLength: 1, maxLength: 6 }),
    seed: fc.nat(),
    frames: opts.exactShape ? fc.constant(WINDOW) : fc.oneof({ weight: 8, arbitrary: fc.constant(WINDOW) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, WINDOW - 1, WINDOW + 1, 64) }),
    dim: opts.exactShape ? fc.constant(DIM) : fc.oneof({ weight: 8, arbitrary: fc.constant(DIM) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, DIM - 1, DIM + 1) }),
    index: fc.constantFrom('none' as const, 'seq' as const, 'null' as const, 'odd' as const),
    indexPool: fc.array(fc.oneof(numberText, fc.constantFrom('null', '"1"', 'true', '[]')), { minLength: 1, maxLength: 3 }),
    featuresFirst: fc.boolean(),
    space: fc.constantFrom('', '', '', ' ', '\n', '\t', '\r\n  '),
  });

export function windowTree(w: WindowSpec): JsonText {
  const rng = new Rng(w.seed);
  const frames: JsonText[] = [];
  for (let i = 0; i < w.frames; i++) {
    const features = arr(Array.from({ length: w.dim }, () => raw(rng.pick(w.pool))));
    const entries: JsonEntry[] = [entry('features', features)];
    if (w.index === 'seq') entries.push(entry('index', raw(String(i))));
    if (w.index === 'null') entries.push(entry('index', raw('null')));
    if (w.index === 'odd') entries.push(entry('index', raw(rng.pick(w.indexPool))));
    if (!w.featuresFirst) entries.reverse();
    frames.push(obj(entries));
  }
  return obj([entry('frames', arr(frames))]);
}

const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 4 });
const optionalField = (name: string, value: fc.Arbitrary<unknown>) => fc.option(value.map((v) => [name, v] as const), { nil: undefined });
const EVENT_NAMES = [...meta.events, 'fall', 'unknown_event'];

/** A valid /event/payload body (any subset of optional fields, probs as a map or as a list). */
export const eventPayload: fc.Arbitrary<JsonText> = fc
  .tuple(
    fc.constantFrom('START', 'END', 'PROBS', 'HEARTBEAT'),
    fc.tuple(
      optionalField('ts', nullable(fc.oneof(fc.double({ min: 0, max: 4e9, noNaN: true }), fc.constantFrom(0, -1, 1e12, 1e15, 8.64e12, -8.64e12, 1e308, -1e308, 5e-324)))),
      optionalField('frame_idx', nullable(fc.oneof(fc.nat(), fc.constantFrom(-1, 2 ** 53, -(2 ** 53), 1e300)))),
      optionalField('event', nullable(fc.oneof(fc.constantFrom(...EVENT_NAMES), oddString))),
      optionalField('prob', nullable(fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(-1, 2, 1e308, -0)))),
      optionalField('duration_sec', nullable(fc.oneof(fc.double({ min: 0, max: 1e5, noNaN: true }), fc.constantFrom(-1, 1e308, 1e20, 5e-324)))),
      optionalField('state', nullable(oddString)),
      optionalField('top_event', nullable(oddString)),
      optionalField('top_prob', nullable(fc.double({ noNaN: true, noDefaultInfinity: true }))),
      optionalField('session_id', nullable(oddString)),
      optionalField('user_id', nullable(oddString)),
    ),
    fc.oneof(
      fc.constant(undefined),
      fc.constant({ probs: null }),
      fc.dictionary(fc.oneof(fc.constantFrom(...EVENT_NAMES), oddString), fc.double({ noNaN: true, noDefaultInfinity: true }), { maxKeys: 4 }).map((probs) => ({ probs })),
      fc.array(fc.constantFrom(...EVENT_NAMES), { maxLength: 4 }).chain((events) =>
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: Math.max(0, events.length - 1), maxLength: events.length + 1 }).map((probs) => ({ events, probs })),
      ),
    ),
  )
  .map(([type, fields, probs]) => {
    const entries: JsonEntry[] = [entry('type', raw(JSON.stringify(type)))];
    for (const f of fields) if (f) entries.push(entry(f[0], raw(JSON.stringify(f[1]))));
    if (probs) for (const [k, v] of Object.entries(probs)) entries.push(entry(k, raw(JSON.stringify(v))));
    return obj(entries);
  });

/** A valid structured /event body. */
export const structuredEvent: fc.Arbitrary<JsonText> = fc
  .record({
    timestamp: fc.oneof(
      fc.constantFrom('2026-11-29T08:35:47Z', '2026-11-29T08:35:47.123456+09:00', '2026-11-29T08:35:47', '2026-02-30T00:00:00Z', 'not a date', '', '+275760-09-13T00:00:00Z', '9999-12-31T23:59:59.999999999Z'),
      fc.oneof(fc.double({ min: 0, max: 4e9, noNaN: true }), fc.constantFrom(-1, 1e308, -1e308, 8.64e15, 8.64e15 + 1)).map((x) => x),
    ),
    event_type: oddString,
    session_id: fc.option(oddString, { nil: undefined }),
    user_id: fc.option(nullable(oddString), { nil: undefined }),
    data: fc.option(nullable(fc.dictionary(oddString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })), { nil: undefined }),
  }, { requiredKeys: ['timestamp', 'event_type'] })
  .map((event) => obj([{ key: '"event"', value: fromPlain(event) }]));

function fromPlain(v: unknown): JsonText {
  if (Array.isArray(v)) return arr(v.map(fromPlain));
  if (v !== null && typeof v === 'object') return obj(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => entry(k, fromPlain(x))));
  return raw(JSON.stringify(v) ?? 'null');
}

/** An /echo body: any object. */
export const echoBody: fc.Arbitrary<JsonText> = fc.array(fc.record({ key: keyText, value: anyJson }), { maxLength: 6 }).map((es) => obj(es as JsonEntry[]));

/** A /debug/kakao/send-test body: {text}, {} or {text: null}. */
export const sendTestBody: fc.Arbitrary<JsonText> = fc.oneof(
  fc.constant(obj([])),
  fc.constant(obj([entry('text', raw('null'))])),
  oddString.map((s) => obj([entry('text', raw(JSON.stringify(s)))])),
);

// ---- requests --------------------------------------------------------------------------------

export type RouteName = 'analyze' | 'payload' | 'structured' | 'echo' | 'sendTest' | 'tokenCheck' | 'recent' | 'health' | 'ready' | 'other';

export interface HttpCase {
  route: RouteName;
  method: string;
  path: string;
  contentType: string | null;
  auth: 'none' | 'good' | 'bad';
  body: Buffer | null;
  /** What the body was made of, for the report. */
  note: string;
}

export const ADMIN_TOKEN = 'fuzz-admin-token';

const POST_PATHS: Record<string, string[]> = {
  analyze: ['/behavior/analyze'],
  payload: ['/event/payload'],
  structured: ['/event/', '/event'],
  echo: ['/echo'],
  sendTest: ['/debug/kakao/send-test', '/event/debug/kakao/send-test'],
};

const GET_PATHS: Record<string, string[]> = {
  tokenCheck: ['/debug/kakao/token-check', '/event/debug/kakao/token-check'],
  health: ['/health'],
  ready: ['/ready'],
};

const ODD_PATHS = [
  '/', '/behavior', '/behavior/analyze/', '/behavior/analyze/x', '/Behavior/Analyze', '/behavior//analyze', '//health', '/health/',
  '/event/recent/', '/event/payload/', '/events', '/%00', '/%2e%2e/%2e%2e/etc/passwd', '/..%2fhealth', '/health%00', '/%F0%9F%98%80',
  '/%ff', '/a?b=%', '/behavior/stream', '/docs/../health', '/debug/kakao', '/metrics/', `/${'a'.repeat(2_000)}`, `/${'a'.repeat(10_000)}`,
  '/health?'+'x'.repeat(3_000), '/openapi.json?x=1', '/docs/swagger-ui.css',
];

const contentType = fc.oneof(
  { weight: 10, arbitrary: fc.constant('application/json') },
  { weight: 1, arbitrary: fc.constantFrom(null, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'APPLICATION/JSON', 'application/json; charset=utf-8', 'application/problem+json', '', '*/*', 'application/json\u00e9') },
);

const otherMethod = fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'BREW');

/** A body for a POST route: its valid base, mutated, framed. */
const postBody = (base: fc.Arbitrary<JsonText>, maxMutations = 3) =>
  fc.record({ base, mutations: fc.array(mutation, { maxLength: maxMutations }), framing, space: fc.constantFrom('', '', ' ', '\n') }).map(({ base, mutations, framing: f, space }) => {
    const { tree, log } = mutateLogged(base, mutations);
    const text = serialize(tree, { space });
    return { body: frame(text, f), note: [...log, ...(f.kind === 'none' ? [] : [`framing: ${visible(JSON.stringify(f))}`])].join('; ') };
  });

const analyzeBase = windowSpec().map(windowTree);

const ROUTE_BODIES: Record<keyof typeof POST_PATHS, fc.Arbitrary<{ body: Buffer; note: string }>> = {
  analyze: postBody(analyzeBase),
  payload: postBody(eventPayload),
  structured: postBody(structuredEvent),
  echo: postBody(echoBody),
  sendTest: postBody(sendTestBody),
};

const recentQuery = fc.oneof(
  fc.constant(''),
  fc.integer({ min: -5, max: 300 }).map((n) => `?limit=${n}`),
  fc.constantFrom('?limit=', '?limit', '?limit=abc', '?limit=1.5', '?limit=1e3', '?limit=1e308', '?limit=-0', '?limit=99999999999999999999', '?limit=0x10',
    '?limit=%00', '?limit=%ff', '?limit=1&limit=x', '?limit=x&limit=1', '?limit=%2B5', '?limit=%205', '?limit=5%20', '?limit[]=1', '?__proto__=1', '?limit=NaN', '?limit=Infinity', '?&&&', '?limit=2&x=%E2%80%AE'),
);

export const httpCase: fc.Arbitrary<HttpCase> = fc.oneof(
  // POST routes, with their bodies
  {
    weight: 12,
    arbitrary: fc
      .constantFrom(...(Object.keys(POST_PATHS) as (keyof typeof POST_PATHS)[]))
      .chain((route) =>
        fc.record({
          route: fc.constant(route as RouteName),
          path: fc.constantFrom(...POST_PATHS[route]!),
          method: fc.oneof({ weight: 10, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'OPTIONS') }),
          contentType,
          auth: fc.constantFrom('none' as const, 'good' as const, 'bad' as const),
          body: ROUTE_BODIES[route]!,
        }),
      )
      .map(({ body, ...rest }) => ({ ...rest, body: body.body, note: body.note })),
  },
  // GET routes, now and then with a body or another method
  {
    weight: 3,
    arbitrary: fc
      .record({
        route: fc.constantFrom('tokenCheck' as const, 'health' as const, 'ready' as const, 'recent' as const),
        query: recentQuery,
        method: fc.oneof({ weight: 8, arbitrary: fc.constant('GET') }, { weight: 1, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: otherMethod }),
        contentType,
        auth: fc.constantFrom('none' as const, 'good' as const, 'bad' as const),
        body: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: anyJson.map((j) => Buffer.from(serialize(j))) }),
      })
      .chain(({ route, query, ...rest }) =>
        (route === 'recent' ? fc.constant(`/event/recent${query}`) : fc.constantFrom(...GET_PATHS[route]!)).map((path) => ({ ...rest, route, path, note: '' })),
      ),
  },
  // unknown paths and odd methods
  {
    weight: 2,
    arbitrary: fc.record({
      route: fc.constant('other' as const),
      path: fc.oneof(fc.constantFrom(...ODD_PATHS), fc.webPath().map((p) => p || '/')),
      method: fc.oneof(fc.constantFrom('GET', 'POST'), otherMethod),
      contentType,
      auth: fc.constant('none' as const),
      body: fc.option(fc.constantFrom(Buffer.from('{}'), Buffer.from('[')), { nil: null }),
      note: fc.constant(''),
    }),
  },
);

export function httpHeaders(c: HttpCase): Record<string, string> {
  const h: Record<string, string> = {};
  if (c.contentType !== null) h['content-type'] = c.contentType;
  if (c.auth === 'good') h.authorization = `Bearer ${ADMIN_TOKEN}`;
  if (c.auth === 'bad') h.authorization = 'Bearer wrong';
  return h;
}

export function describeHttpCase(c: HttpCase): string {
  const headers = Object.entries(httpHeaders(c)).map(([k, v]) => `${k}: ${v}`).join('; ');
  return `${c.method} ${describeBytes(Buffer.from(c.path), 200)} [${headers}]${c.note ? `\nmutations: ${c.note}` : ''}\nbody (${c.body?.length ?? 0} bytes): ${c.body ? describeBytes(c.body, 400) : '(none)'}`;
}

// ---- streams ---------------------------------------------------------------------------------

const streamId = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('cam-1', 'cam-2', 'c') },
  { weight: 1, arbitrary: oddString.filter((s) => s.length <= 200) },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(128), 'x'.repeat(129), '😀'.repeat(64)) },
);

const featureVector = fc.record({ seed: fc.nat(), pool: fc.array(numberText, { minLength: 1, maxLength: 4 }), n: fc.oneof({ weight: 9, arbitrary: fc.constant(DIM) }, { weight: 1, arbitrary: fc.constantFrom(0, DIM - 1, DIM + 1) }) })
  .map(({ seed, pool, n }) => {
    const rng = new Rng(seed);
    return arr(Array.from({ length: n }, () => raw(rng.chance(0.8) ? JSON.stringify(rng.uniform(-2, 2)) : rng.pick(pool))));
  });

const keypoints = fc.oneof(
  { weight: 1, arbitrary: fc.constant(raw('null')) },
  {
    weight: 4,
    arbitrary: fc.record({ seed: fc.nat(), n: fc.oneof({ weight: 9, arbitrary: fc.constant(KEYPOINT_COUNT) }, { weight: 1, arbitrary: fc.constantFrom(0, 32, 34) }), missing: fc.double({ min: 0, max: 1, noNaN: true }) }).map(({ seed, n, missing }) => {
      const rng = new Rng(seed);
      return arr(Array.from({ length: n }, () => arr(Array.from({ length: KEYPOINT_VALUES }, () => raw(rng.chance(missing) ? 'null' : JSON.stringify(rng.uniform(-1, 2)))))));
    }),
  },
);

const optional = (name: string, value: fc.Arbitrary<JsonText>) => fc.option(value.map((v) => entry(name, v)), { nil: undefined });

/** A valid JSON stream message: open, a features or keypoints frame, or close. */
export const streamMessageTree: fc.Arbitrary<JsonText> = fc.oneof(
  fc.tuple(streamId, optional('stride', fc.integer({ min: 1, max: 20 }).map((n) => raw(String(n)))), optional('events', fc.boolean().map((b) => raw(String(b)))), optional('probs_every', fc.integer({ min: 0, max: 5 }).map((n) => raw(String(n)))), optional('session_id', oddString.filter((s) => s.length <= 256).map((s) => raw(JSON.stringify(s)))))
    .map(([id, ...rest]) => obj([entry('type', raw('"open"')), entry('stream_id', raw(JSON.stringify(id))), ...rest.filter((e): e is JsonEntry => e !== undefined)])),
  fc.tuple(streamId, fc.boolean(), optional('index', fc.oneof(fc.nat().map(String), numberText).map(raw)), optional('ts', numberText.map(raw)), fc.boolean(), featureVector, keypoints)
    .map(([id, typed, index, ts, useFeatures, features, kps]) =>
      obj([...(typed ? [entry('type', raw('"frame"'))] : []), entry('stream_id', raw(JSON.stringify(id))), ...[index, ts].filter((e): e is JsonEntry => e !== undefined), useFeatures ? entry('features', features) : entry('keypoints', kps)]),
    ),
  streamId.map((id) => obj([entry('type', raw('"close"')), entry('stream_id', raw(JSON.stringify(id)))])),
);

export type StreamMessage = { binary: false; text: string; note?: string } | { binary: true; bytes: Buffer; note?: string };

/** A JSON stream message, mutated and framed (kept under the default 64 KiB message limit). */
const STREAM_FIELDS = ['type', 'stream_id', 'features', 'keypoints', 'index', 'ts', 'stride', 'window', 'events', 'probs_every', 'session_id', 'user_id'];

export const streamTextMessage: fc.Arbitrary<StreamMessage> = fc
  .record({
    base: streamMessageTree,
    // A documented field set to anything (added if missing), then mutations anywhere.
    field: fc.option(fc.record({ key: fc.constantFrom(...STREAM_FIELDS), value: smallStrangeValue }), { nil: undefined, freq: 2 }),
    mutations: fc.array(mutationOf(smallStrangeValue), { maxLength: 3 }),
    framing,
  })
  .map(({ base, field, mutations, framing: f }) => {
    if (field && base.t === 'obj') {
      const key = JSON.stringify(field.key);
      const entries = base.entries.filter((e) => e.key !== key);
      base = obj([...entries, { key, value: field.value }]);
    }
    const { tree, log } = mutateLogged(base, mutations);
    if (field) log.unshift(`set ${field.key} = ${describeEnds(serialize(field.value), 160)}`);
    return { binary: false as const, text: frame(serialize(tree), f).toString('utf8'), note: [...log, ...(f.kind === 'none' ? [] : [`framing: ${visible(JSON.stringify(f))}`])].join('; ') };
  })
  .filter((m) => Buffer.byteLength(m.text) < 60_000);

export type BinaryMutation =
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'append'; bytes: number[] }
  | { kind: 'idLength'; value: number }
  | { kind: 'float'; at: number; value: number };

const binaryMutation: fc.Arbitrary<BinaryMutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat({ max: 24 }), byte: fc.constantFrom(0, 1, 2, 3, 0x7f, 0x80, 0xff) }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat({ max: 800 }) }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('idLength' as const), value: fc.constantFrom(0, 1, 3, 4, 128, 511, 512, 513, 0xffff) }),
  fc.record({ kind: fc.constant('float' as const), at: fc.nat(), value: fc.constantFrom(Number.NaN, Infinity, -Infinity, 3.5e38, -0, 1e-45) }),
);

/** A binary frame per the README layout, then byte-level mutations. */
export const streamBinaryMessage: fc.Arbitrary<StreamMessage> = fc
  .record({
    id: fc.oneof(streamId.filter((s) => Buffer.byteLength(s) <= 512 && s.length > 0), fc.constant('cam-1')),
    kind: fc.constantFrom('features' as const, 'keypoints' as const),
    index: fc.oneof(fc.constant(null), fc.nat(), fc.constant(0xffffffff)),
    ts: fc.oneof(fc.constant(null), fc.double()),
    seed: fc.nat(),
    mutations: fc.array(binaryMutation, { maxLength: 3 }),
    // Now and then a stream id that is not UTF-8.
    rawId: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80]) }),
  })
  .map(({ id, kind, index, ts, seed, mutations, rawId }) => {
    const rng = new Rng(seed);
    const n = kind === 'features' ? DIM : KEYPOINT_COUNT * KEYPOINT_VALUES;
    let bytes = Buffer.from(encodeBinaryFrame(rawId ? 'x'.repeat(rawId.length) : id, kind, Array.from({ length: n }, () => rng.uniform(-1, 1)), index, ts));
    if (rawId) Buffer.from(rawId).copy(bytes, 16);
    for (const m of mutations) {
      switch (m.kind) {
        case 'set':
          if (m.at < bytes.length) bytes[m.at] = m.byte;
          break;
        case 'truncate':
          bytes = bytes.subarray(0, Math.min(bytes.length, m.keep));
          break;
        case 'append':
          bytes = Buffer.concat([bytes, Buffer.from(m.bytes)]);
          break;
        case 'idLength':
          if (bytes.length >= 4) bytes.writeUInt16LE(m.value, 2);
          break;
        case 'float': {
          const slots = Math.floor((bytes.length - 16) / 4);
          if (slots > 0) bytes.writeFloatLE(m.value, bytes.length - 4 * (1 + (m.at % slots)));
          break;
        }
      }
    }
    return { binary: true as const, bytes: Buffer.from(bytes) };
  });

export const streamMessage: fc.Arbitrary<StreamMessage> = fc.oneof({ weight: 2, arbitrary: streamTextMessage }, { weight: 1, arbitrary: streamBinaryMessage });

export function describeStreamMessage(m: StreamMessage): string {
  const body = m.binary ? `binary ${m.bytes.length} bytes: ${m.bytes.subarray(0, 48).toString('hex')}${m.bytes.length > 48 ? '…' : ''}` : `text ${Buffer.byteLength(m.text)} bytes: ${describeBytes(Buffer.from(m.text), 400)}`;
  return m.note ? `${body}\n   (${m.note})` : body;
}

/**
 * Whether the README's rules make a message certainly bad (so it must get an `error`): not JSON,
 * not an object, an unknown type, no usable stream_id; for binary, a header that does not fit.
 * Messages this does not call bad may still be bad; they are not counted.
 */
export function certainlyBad(m: StreamMessage): boolean {
  if (m.binary) {
    const b = m.bytes;
    if (b.length < 16 || b[0] !== 1 || (b[1] !== 1 && b[1] !== 2)) return true;
    const idLength = b.readUInt16LE(2);
    if (idLength === 0 || idLength > 512 || 16 + idLength > b.length) return true;
    const values = (b.length - 16 - Math.ceil(idLength / 4) * 4) / 4;
    return values !== (b[1] === 1 ? DIM : KEYPOINT_COUNT * KEYPOINT_VALUES);
  }
  let data: any;
  try {
    data = JSON.parse(m.text);
  } catch {
    return true;
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) return true;
  if (data.type !== undefined && !['open', 'frame', 'close'].includes(data.type)) return true;
  // Ajv counts a string's length in code points, as the schema's maxLength means.
  return typeof data.stream_id !== 'string' || data.stream_id.length === 0 || [...data.stream_id].length > 128;
}
