/**
 * The fuzz properties and their runner. Shared by `npm test` (fixed seed, few runs, stops at the
 * first failure of each property) and `npm run fuzz` (many runs, a fresh seed, every distinct
 * failure collected, the server restarted after each crash).
 *
 * What must hold for any input:
 *  - the server answers with a documented status — never a 5xx for client input (a 503 means
 *    overload, which fuzzing at one request at a time never causes);
 *  - it does not die, and /health answers within a second after each case;
 *  - answers are bounded (no megabytes of 422 for a kilobyte of input);
 *  - the fast analyze decoder and the general path give the same answer for the same JSON;
 *  - on /behavior/stream every certainly-bad message gets an `error` and the socket stays open,
 *    and a message over the size limit closes that socket only.
 */
import fc from 'fast-check';
import type { Test } from 'tap';
import {
  ADMIN_TOKEN, certainlyBad, deepNesting, describeHttpCase, describeStreamMessage, httpCase, httpHeaders, mutateLogged, mutation, streamMessage,
  windowSpec, windowTree, type HttpCase, type Mutation, type StreamMessage, type WindowSpec,
} from './arbitraries.js';
import { describeBytes, describeEnds, describeText, entry, obj, raw, serialize, type JsonText } from './json-text.js';
import { ServerDown, sleep, type FuzzTarget, type RawResponse } from './target.js';

// ---- settings --------------------------------------------------------------------------------

export interface FuzzSettings {
  seed: number;
  /** Multiplies every property's run count. */
  scale: number;
  /** Overrides every property's run count. */
  runs?: number;
  /** Keep going after a failure and report every distinct one (restarting the server after a crash). */
  collect: boolean;
  /** Shrink a failing case (restarting the server as often as it takes). */
  shrink: boolean;
  /** Replays one case: fast-check's path of a reported failure. */
  path?: string;
  /** Per-property time limit in ms (0 = none). */
  timeLimitMs: number;
}

export const FIXED_SEED = 20_261_130;

export function fuzzSettings(env = process.env): FuzzSettings {
  const deep = env.FUZZ_DEEP === '1';
  const num = (name: string) => (env[name] !== undefined && env[name] !== '' ? Number(env[name]) : undefined);
  return {
    seed: num('FUZZ_SEED') ?? (deep ? Date.now() % 2 ** 31 : FIXED_SEED),
    scale: num('FUZZ_SCALE') ?? (deep ? 20 : 1),
    runs: num('FUZZ_RUNS'),
    collect: env.FUZZ_COLLECT !== undefined ? env.FUZZ_COLLECT === '1' : deep,
    shrink: env.FUZZ_SHRINK === '1',
    path: env.FUZZ_PATH || undefined,
    timeLimitMs: num('FUZZ_TIME_LIMIT_S') !== undefined ? num('FUZZ_TIME_LIMIT_S')! * 1000 : deep ? 5 * 60_000 : 0,
  };
}

/** The server's environment for fuzzing (Kakao pointed at the stand-in by the caller). */
export const FUZZ_SERVER_ENV = {
  BACKEND_ADMIN_TOKEN: ADMIN_TOKEN,
  BACKEND_MAX_BODY_BYTES: String(1024 * 1024),
  BACKEND_WS_MAX_MESSAGE_BYTES: String(64 * 1024),
};
export const MAX_BODY = 1024 * 1024;
export const MAX_WS_MESSAGE = 64 * 1024;

// ---- failures --------------------------------------------------------------------------------

/** A broken property; `signature` groups failures with one cause (numbers and inputs left out). */
export class Violation extends Error {
  constructor(readonly signature: string, detail: string) {
    super(`${signature}${detail ? `: ${detail}` : ''}`);
    this.name = 'Violation';
  }
}

export interface Finding {
  property: string;
  signature: string;
  message: string;
  input: string;
  /** How often this signature was hit. */
  count: number;
}

/** The cause of a crash, from the server's last output: the error line and the first frame in our code. */
export function crashSignature(err: ServerDown): string {
  const lines = err.output.split('\n');
  const plain = lines.filter((l) => !l.startsWith('{'));
  let errorLine = plain.find((l) => /^\s*(Uncaught )?\w*Error\b|Maximum call stack|heap out of memory|FATAL|Aborted/.test(l))?.trim();
  if (!errorLine) {
    for (const l of lines.filter((x) => x.startsWith('{')).reverse()) {
      try {
        const err = JSON.parse(l).err;
        if (err) {
          errorLine = `${err.type}: ${err.message} (logged)`;
          break;
        }
      } catch {
        /* not a log line */
      }
    }
  }
  const at = lines.find((l) => /^\s+at .*\/(src|workers)\//.test(l))?.trim().replace(/^at /, '').replace(/\(.*\/((src|workers)\/[^)]*)\)/, '($1)');
  const logged = /"msg":"([^"]{1,200})"/.exec(err.output)?.[1];
  return `server died (${err.reason.replace(/ \(the request got:.*$/s, '')})${errorLine ? ` — ${errorLine.slice(0, 200)}` : logged ? ` — last log: ${logged}` : ''}${at ? ` at ${at}` : ''}`;
}

function signatureOf(err: unknown): string {
  if (err instanceof ServerDown) return crashSignature(err);
  if (err instanceof Violation) return err.signature;
  return `harness error: ${String((err as Error)?.message ?? err).split('\n')[0]!.replace(/\d+/g, 'N').slice(0, 200)}`;
}

// ---- the runner ------------------------------------------------------------------------------

export interface FuzzProperty<T> {
  name: string;
  arb: fc.Arbitrary<T>;
  /** Runs under `npm test`. */
  runs: number;
  describe(value: T): string;
  check(target: FuzzTarget, value: T): Promise<void>;
}

export function defineProperty<T>(p: FuzzProperty<T>): FuzzProperty<T> {
  return p;
}

/** Runs one property as a tap subtest; returns what it found (also when collecting). */
export async function runProperty<T>(t: Test, target: FuzzTarget, p: FuzzProperty<T>, s: FuzzSettings): Promise<Finding[]> {
  const numRuns = s.runs ?? Math.max(1, Math.round(p.runs * s.scale));
  const findings = new Map<string, Finding>();
  const started = Date.now();
  const predicate = async (value: T): Promise<boolean> => {
    await target.ensureUp();
    try {
      await p.check(target, value);
      await target.checkHealth(1_000);
      return true;
    } catch (err) {
      const signature = signatureOf(err);
      const message = err instanceof ServerDown ? `${err.reason}\n--- last server output ---\n${err.output.slice(-2_500)}` : String((err as Error)?.message ?? err);
      const input = p.describe(value);
      const seen = findings.get(signature);
      if (!seen) findings.set(signature, { property: p.name, signature, message, input, count: 1 });
      else {
        seen.count++;
        if (input.length < seen.input.length) Object.assign(seen, { message, input });
      }
      if (s.collect) return true;
      throw err;
    }
  };
  const details = await fc.check(fc.asyncProperty(p.arb, predicate), {
    seed: s.seed,
    numRuns,
    path: s.path,
    endOnFailure: !s.shrink,
    interruptAfterTimeLimit: s.timeLimitMs || undefined,
    markInterruptAsFailure: false,
  });
  const took = ((Date.now() - started) / 1000).toFixed(1);
  if (details.failed && details.counterexample) {
    const [value] = details.counterexample;
    const err = details.errorInstance;
    const signature = signatureOf(err);
    const message = err instanceof ServerDown ? `${err.reason}\n--- last server output ---\n${err.output.slice(-2_500)}` : String((err as Error)?.message ?? err);
    t.fail(`${p.name}: ${signature}`, {
      diagnostic: true,
      counterexample: p.describe(value as T),
      error: message,
      replay: `FUZZ_SEED=${s.seed} FUZZ_PATH=${details.counterexamplePath} npx tap test/fuzz.test.ts`,
      runs: `${details.numRuns} run(s), ${took} s`,
    });
    return [{ property: p.name, signature, message, input: p.describe(value as T), count: 1 }];
  }
  if (details.failed) t.fail(`${p.name}: ${String(details.errorInstance)}`);
  for (const f of findings.values()) {
    t.fail(`${p.name}: ${f.signature} (×${f.count})`, { diagnostic: true, counterexample: f.input, error: f.message });
  }
  if (!findings.size && !details.failed) t.pass(`${p.name}: ${details.numRuns} run(s) in ${took} s${details.interrupted ? ' (time limit reached)' : ''}`);
  return [...findings.values()];
}

// ---- HTTP checks -----------------------------------------------------------------------------

const DOCUMENTED = new Set([200, 400, 401, 403, 404, 405, 413, 415, 422, 426, 431]);
const ADMIN_ROUTES = new Set(['sendTest', 'tokenCheck']);
const RESPONSE_FLOOR = 256 * 1024;

/** The answer a request must get; throws a Violation naming the broken rule. */
export function checkHttpAnswer(c: HttpCase, res: RawResponse | null, serverError?: string): void {
  if (res === null) return; // refused by closing, see send()
  const where = `${c.route === 'other' ? 'an unknown path' : c.path.split('?')[0]}`;
  const requestBytes = c.body?.length ?? 0;
  if (res.status >= 500) throw new Violation(`${res.status} from ${c.method} ${where}${serverError ? ` (${serverError})` : ''}`, describeText(res.text, 400));
  // `/` sends people to the watch page.
  const toWatchPage = res.status === 302 && c.path.split('?')[0] === '/' && (c.method === 'GET' || c.method === 'HEAD');
  if (!DOCUMENTED.has(res.status) && !(res.status === 204 && c.method === 'OPTIONS') && !toWatchPage) {
    throw new Violation(`undocumented status ${res.status} from ${c.method} ${where}`, describeText(res.text, 300));
  }
  const limit = c.route === 'recent' || c.route === 'other' ? Infinity : Math.max(RESPONSE_FLOOR, 2 * requestBytes + 4096);
  if (res.body.length > limit) {
    throw new Violation(`${res.status} answer of ${c.method} ${where} is unbounded`, `${res.body.length} bytes for a ${requestBytes}-byte request (limit ${limit})`);
  }
  // An event route also answers 413 for an event whose log line would pass BACKEND_EVENT_MAX_BYTES.
  const eventTooLarge = (c.route === 'payload' || c.route === 'structured') && res.text.includes('BACKEND_EVENT_MAX_BYTES');
  if (res.status === 413 && requestBytes <= MAX_BODY && !eventTooLarge) throw new Violation(`413 for a body within the limit on ${where}`, `${requestBytes} bytes`);
  const bodyRoute = c.route === 'analyze' || c.route === 'payload' || c.route === 'structured' || c.route === 'echo' || (c.route === 'sendTest' && c.auth === 'good');
  if (bodyRoute && c.method === 'POST' && requestBytes > MAX_BODY && res.status !== 413) {
    throw new Violation(`${res.status} (not 413) for a body over the limit on ${where}`, `${requestBytes} bytes`);
  }
  if (res.status === 401 && !(ADMIN_ROUTES.has(c.route) && c.auth !== 'good')) throw new Violation(`401 on ${where} with ${c.auth} authorization`, res.text.slice(0, 200));
  if (ADMIN_ROUTES.has(c.route) && c.auth !== 'good' && res.status === 200) throw new Violation(`admin route ${where} answered 200 without the admin token`, '');
  if (c.method === 'HEAD') return;
  if (res.status >= 400 && res.status !== 413) {
    let json: any;
    try {
      json = JSON.parse(res.text);
    } catch {
      throw new Violation(`${res.status} from ${where} is not JSON`, describeText(res.text, 200));
    }
    if (!json || (typeof json.detail !== 'string' && !Array.isArray(json.detail))) throw new Violation(`${res.status} from ${where} has no detail`, describeText(res.text, 200));
  }
  if (res.status === 200 && c.method !== 'OPTIONS') checkOk(c, res);
}

function parseJsonOrFail(res: RawResponse, what: string): any {
  try {
    return JSON.parse(res.text);
  } catch {
    throw new Violation(`200 from ${what} is not JSON`, describeText(res.text, 200));
  }
}

function checkOk(c: HttpCase, res: RawResponse): void {
  switch (c.route) {
    case 'analyze': {
      const r = parseJsonOrFail(res, c.path);
      if (!Array.isArray(r.scores) || !r.scores.every((x: unknown) => typeof x === 'number' && x >= 0 && x <= 1) || typeof r.is_anomaly !== 'boolean') {
        throw new Violation('200 from /behavior/analyze without scores in [0, 1]', describeText(res.text, 300));
      }
      return;
    }
    case 'payload':
    case 'structured':
      if (!/^\{"success":true,"event_id":"[0-9a-f]{32}"\}$/.test(res.text)) throw new Violation(`200 from ${c.path} is not {success, event_id}`, describeText(res.text, 200));
      return;
    case 'echo': {
      const r = parseJsonOrFail(res, '/echo');
      let sent: unknown;
      try {
        sent = JSON.parse(c.body!.toString('utf8'));
      } catch {
        throw new Violation('/echo answered 200 to a body that is not JSON', '');
      }
      if (JSON.stringify(r.echo) !== JSON.stringify(sent)) throw new Violation('/echo did not echo the object it was sent', `sent ${describeText(JSON.stringify(sent), 200)}, got ${describeText(JSON.stringify(r.echo), 200)}`);
      return;
    }
    case 'recent': {
      const r = parseJsonOrFail(res, '/event/recent');
      if (!Array.isArray(r) || !r.every((e) => e && typeof e.event_id === 'string')) throw new Violation('200 from /event/recent is not a list of records', describeText(res.text, 200));
      return;
    }
    case 'sendTest':
    case 'tokenCheck': {
      const r = parseJsonOrFail(res, c.path);
      if (typeof r.ok !== 'boolean') throw new Violation(`200 from ${c.path.split('?')[0]} has no ok`, describeText(res.text, 200));
      return;
    }
    default:
      return;
  }
}

/** The error the server logged (warn or error) for a request: type and message, inputs cut. */
export function loggedError(output: string): string | undefined {
  const err = [...output.matchAll(/"err":\{"type":"([^"]{1,80})","message":"((?:[^"\\]|\\.){0,120})/g)].at(-1);
  if (err) return `${err[1]}: ${err[2]!.replace(/\(.*$/, '(…)')}`;
  const reason = [...output.matchAll(/"reason":"((?:[^"\\]|\\.){0,80})/g)].at(-1);
  return reason ? reason[1]!.replace(/\(.*$/, '(…)') : undefined;
}

/** send() and the checks of its answer, with what the server logged about a 5xx. */
export async function sendAndCheck(target: FuzzTarget, c: HttpCase): Promise<RawResponse | null> {
  const mark = target.outputMark();
  const res = await send(target, c);
  let logged: string | undefined;
  if (res && res.status >= 500) {
    await sleep(100); // the log line may trail the answer
    logged = loggedError(target.outputSince(mark));
  }
  checkHttpAnswer(c, res, logged);
  return res;
}

/**
 * One request of a case; a request the server drops without an answer (while alive) is a
 * violation — except a body over the limit: the server answers 413 and closes without reading the
 * rest, and the client, still writing, may see the reset before the answer (null then).
 */
export async function send(target: FuzzTarget, c: HttpCase): Promise<RawResponse | null> {
  try {
    return await target.request({ method: c.method, path: c.path, headers: httpHeaders(c), body: c.body ?? undefined });
  } catch (err) {
    if (err instanceof ServerDown) throw err;
    if ((c.body?.length ?? 0) > MAX_BODY && /EPIPE|ECONNRESET|socket hang up/.test((err as Error).message)) return null;
    if (c.method === 'HEAD' && /Parse Error/.test((err as Error).message)) {
      throw new Violation('HEAD is answered with a body (the next answer on that connection is garbled)', (err as Error).message);
    }
    const standard = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE'].includes(c.method);
    // The HTTP parser closes the connection on a method it does not know (README, "HTTP protocol limits").
    if (!standard) return null;
    const what = standard ? `${c.method} ${c.route === 'other' ? 'an unknown path' : c.path.split('?')[0]}` : 'an unknown method';
    throw new Violation(`no HTTP answer to ${what}: the connection was closed (server alive)`, `${c.method} ${c.path.slice(0, 80)}: ${(err as Error).message}`);
  }
}

// ---- the properties --------------------------------------------------------------------------

/** Event ids the server acknowledged, checked against the log at the end. */
export const acknowledged: string[] = [];

/** Statuses seen per route (a coverage summary for the report). */
export const statusCounts = new Map<string, Map<number | 'dropped', number>>();

function countStatus(c: HttpCase, res: RawResponse | null): void {
  const key = `${c.method} ${c.route}`;
  const counts = statusCounts.get(key) ?? new Map<number | 'dropped', number>();
  statusCounts.set(key, counts);
  const status = res?.status ?? 'dropped';
  counts.set(status, (counts.get(status) ?? 0) + 1);
}

export function statusSummary(): string {
  return [...statusCounts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, counts]) => `${key}: ${[...counts].sort(([a], [b]) => String(a).localeCompare(String(b))).map(([s, n]) => `${s}×${n}`).join(' ')}`)
    .join('\n');
}

export const httpProperty = defineProperty<HttpCase>({
  name: 'every route answers any request with a documented status and stays up',
  arb: httpCase,
  runs: 140,
  describe: describeHttpCase,
  async check(target, c) {
    let res: RawResponse | null = null;
    try {
      res = await sendAndCheck(target, c);
    } finally {
      countStatus(c, res);
    }
    if (res?.status === 200 && (c.route === 'payload' || c.route === 'structured')) acknowledged.push(JSON.parse(res.text).event_id);
  },
});

/** Deep nesting placed at the top or under a key of each route's body, and on the stream. */
export interface NestingCase {
  route: 'analyze' | 'payload' | 'structured' | 'echo' | 'sendTest' | 'stream';
  under: string | null;
  nesting: JsonText;
}

const NESTING_ROUTES: Record<Exclude<NestingCase['route'], 'stream'>, string> = {
  analyze: '/behavior/analyze',
  payload: '/event/payload',
  structured: '/event/',
  echo: '/echo',
  sendTest: '/debug/kakao/send-test',
};

function nestingText(c: NestingCase): string {
  if (c.under === null) return serialize(c.nesting);
  const base = c.route === 'payload' ? [entry('type', raw('"END"'))] : c.route === 'stream' ? [entry('stream_id', raw('"cam-1"'))] : [];
  return serialize(obj([...base.filter((e) => e.key !== JSON.stringify(c.under)), entry(c.under, c.nesting)]));
}

export const nestingProperty = defineProperty<NestingCase>({
  name: 'deep nesting anywhere is refused, not fatal',
  arb: fc.record({
    route: fc.constantFrom('analyze' as const, 'payload' as const, 'structured' as const, 'echo' as const, 'sendTest' as const, 'stream' as const),
    under: fc.constantFrom(null, 'frames', 'data', 'type', 'event', 'text', 'features', 'probs', '__proto__', 'x'),
    nesting: deepNesting,
  }),
  runs: 24,
  describe: (c) => `${c.route}${c.under === null ? ' (the whole body)' : ` under "${c.under}"`}: ${describeText(nestingText(c))}`,
  async check(target, c) {
    const text = nestingText(c);
    if (c.route === 'stream') {
      if (Buffer.byteLength(text) >= MAX_WS_MESSAGE) return checkOversize(target, { binary: false, text });
      return checkStreamMessages(target, [{ binary: false, text }]);
    }
    const hc: HttpCase = { route: c.route, method: 'POST', path: NESTING_ROUTES[c.route], contentType: 'application/json', auth: 'good', body: Buffer.from(text), note: '' };
    await sendAndCheck(target, hc);
  },
});

/** An analyze body the fast decoder takes, and the same JSON with its first key escaped. */
export interface AgreementCase {
  spec: WindowSpec;
  mutations: Mutation[];
}

const ESCAPED_FRAMES = '"fr\\u0061mes"';

export function agreementTexts(c: AgreementCase): { fast: string; general: string; keyAt: number; log: string[] } {
  const { tree, log } = mutationsWithin(windowTree(c.spec) as Extract<JsonText, { t: 'obj' }>, c.mutations);
  const fast = serialize(tree, { space: c.spec.space });
  const general = serialize({ ...tree, entries: tree.entries.map((e, j) => (j === 0 ? { ...e, key: ESCAPED_FRAMES } : e)) }, { space: c.spec.space });
  return { fast, general, keyAt: fast.indexOf('"frames"'), log };
}

/**
 * Mutations that keep a top-level object whose first key is "frames" (so that key can be
 * escaped): a quarter of the added keys go to the top level after "frames", the rest of the
 * mutations act inside the frames array (which they may also replace).
 */
function mutationsWithin(tree: Extract<JsonText, { t: 'obj' }>, mutations: readonly Mutation[]): { tree: Extract<JsonText, { t: 'obj' }>; log: string[] } {
  const topLevel = (m: Mutation): m is Extract<Mutation, { kind: 'addKey' }> => m.kind === 'addKey' && m.at % 4 === 0;
  // Inside a wrapper {"frames": …}, with `at + 1` so that the wrapper itself is never the node picked.
  const inner = mutations.filter((m) => !topLevel(m)).map((m: Mutation): Mutation => (m.kind === 'addKey' ? m : { ...m, at: m.at + 1 }));
  const { tree: wrapped, log } = mutateLogged(obj([tree.entries[0]!]), inner);
  const frames = wrapped.t === 'obj' && wrapped.entries[0] ? wrapped.entries[0].value : wrapped;
  const extra = mutations.filter(topLevel);
  for (const m of extra) log.push(`add key ${m.key} to the top level after "frames" = ${describeEnds(serialize(m.value), 160)}`);
  return { tree: { t: 'obj', entries: [{ key: '"frames"', value: frames }, ...extra.map((m) => ({ key: m.key, value: m.value }))] }, log };
}

export const agreementProperty = defineProperty<AgreementCase>({
  name: 'the fast analyze decoder and the general path give the same answer',
  arb: fc.record({
    spec: windowSpec({ exactShape: false }),
    mutations: fc.oneof({ weight: 3, arbitrary: fc.constant([] as Mutation[]) }, { weight: 2, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 2 }) }),
  }),
  runs: 30,
  describe: (c) => {
    const { fast, log } = agreementTexts(c);
    return `${c.spec.frames} frames × ${c.spec.dim} features drawn from ${JSON.stringify(c.spec.pool)} (seed ${c.spec.seed}), index ${c.spec.index}${c.spec.index === 'odd' ? ` from ${JSON.stringify(c.spec.indexPool)}` : ''}, ${c.spec.featuresFirst ? 'features first' : 'index first'}, whitespace ${JSON.stringify(c.spec.space)}\nmutations: ${log.join('; ') || 'none'}\nbody (${fast.length} chars): ${describeText(fast, 300)}`;
  },
  async check(target, c) {
    const { fast, general, keyAt } = agreementTexts(c);
    const hc = (text: string): HttpCase => ({ route: 'analyze', method: 'POST', path: '/behavior/analyze', contentType: 'application/json', auth: 'none', body: Buffer.from(text), note: '' });
    const counts = async () => {
      const text = (await target.request({ method: 'GET', path: '/metrics' })).text;
      const count = (decoder: string) => Number(new RegExp(`analyze_bodies_decoded_total\\{decoder="${decoder}"\\} (\\d+)`).exec(text)?.[1] ?? NaN);
      return { fast: count('fast'), general: count('general') };
    };
    const before = await counts();
    const a = await sendAndCheck(target, hc(fast));
    const between = await counts();
    const b = await sendAndCheck(target, hc(general));
    const after = await counts();
    // Where the server counts its decoders, check that each form took the path meant for it.
    // (An odd index, e.g. 1e400, makes the fast decoder defer to the general path, which may accept it.)
    if (a?.status === 200 && !Number.isNaN(before.fast) && c.mutations.length === 0 && c.spec.index !== 'odd' && between.fast !== before.fast + 1) {
      throw new Violation('a plain agents\' window did not take the fast decoder', `fast decodes ${before.fast} → ${between.fast}`);
    }
    if (b?.status === 200 && !Number.isNaN(between.general) && after.general !== between.general + 1) {
      throw new Violation('a window with an escaped key did not take the general path', `general decodes ${between.general} → ${after.general}`);
    }
    if (!a || !b) return;
    const norm = (res: RawResponse, shift: number) => {
      if (res.status !== 422) return res.text;
      const json = JSON.parse(res.text);
      if (Array.isArray(json.detail)) for (const d of json.detail) if (d.type === 'json_invalid' && typeof d.loc?.[1] === 'number' && d.loc[1] > keyAt) d.loc[1] -= shift;
      return JSON.stringify(json);
    };
    const [x, y] = [norm(a, 0), norm(b, ESCAPED_FRAMES.length - '"frames"'.length)];
    if (a.status !== b.status || x !== y) {
      throw new Violation(`fast and general analyze answers differ (${a.status} vs ${b.status})`, `fast: ${describeText(x, 300)}\ngeneral: ${describeText(y, 300)}`);
    }
  },
});

// ---- stream checks ---------------------------------------------------------------------------

const STREAM_TYPES = new Set(['opened', 'analysis', 'event', 'error', 'closed']);
const SENTINEL_WAIT_MS = 8_000;
let sentinelCounter = 0;

/**
 * Sends each message followed by a sentinel (closing a stream that is not open, which must be
 * answered with an error naming it); what arrives between is the message's answer. Errors are
 * sent synchronously, so a certainly-bad message's error arrives before the sentinel's.
 */
export async function checkStreamMessages(target: FuzzTarget, messages: StreamMessage[]): Promise<void> {
  const sock = await target.openStream();
  try {
    for (const [i, m] of messages.entries()) {
      const before = sock.received.length;
      const sentinel = `fuzz-sentinel-${++sentinelCounter}`;
      sock.send(m.binary ? m.bytes : m.text);
      sock.send(JSON.stringify({ type: 'close', stream_id: sentinel }));
      const isSentinel = (r: { json: any }) => r.json?.type === 'error' && r.json.stream_id === sentinel;
      const answered = await sock.until(() => sock.received.slice(before).some(isSentinel), SENTINEL_WAIT_MS);
      if (!answered) {
        if (!target.alive || sock.closed?.code === 1006) {
          const down = await target.explain(new Error(`socket closed ${sock.closed?.code ?? ''}`));
          if (down instanceof ServerDown) throw down;
        }
        if (sock.closed) throw new Violation(`the stream socket closed after a message under the size limit (code ${sock.closed.code})`, `after message #${i + 1}: ${sock.closed.reason}`);
        throw new Violation('no answer on the stream socket', `nothing within ${SENTINEL_WAIT_MS} ms after message #${i + 1}`);
      }
      const answer = sock.received.slice(before, before + sock.received.slice(before).findIndex(isSentinel));
      if (certainlyBad(m) && !answer.some((r) => r.json?.type === 'error')) {
        throw new Violation(`a bad ${m.binary ? 'binary' : 'text'} stream message got no error`, `message #${i + 1} got ${answer.map((r) => describeText(r.text, 160)).join(', ') || 'nothing'}`);
      }
    }
    for (const r of sock.received) {
      if (r.binary || !r.json || typeof r.json !== 'object' || !STREAM_TYPES.has(r.json.type)) throw new Violation('the server sent a message that is not a documented stream message', describeText(r.text, 200));
      if (r.json.type === 'error' && (typeof r.json.code !== 'string' || typeof r.json.detail !== 'string')) throw new Violation('a stream error without code or detail', describeText(r.text, 200));
      if (r.text.length > MAX_WS_MESSAGE + 4096) throw new Violation(`a stream ${r.json.type} message is unbounded`, `${r.text.length} bytes`);
    }
  } finally {
    sock.close();
  }
}

/** A message over the size limit closes its socket, and only it: a new socket works. */
export async function checkOversize(target: FuzzTarget, m: StreamMessage): Promise<void> {
  const sock = await target.openStream();
  try {
    sock.send(m.binary ? m.bytes : m.text);
    const closed = await sock.until(() => sock.closed !== null, 5_000);
    if (!closed) {
      const down = await target.explain(new Error('no close'));
      if (down instanceof ServerDown) throw down;
      throw new Violation('a stream message over the size limit did not close the socket', `${sock.received.length} message(s) came instead`);
    }
  } finally {
    sock.close();
  }
  if (!target.alive) throw await target.explain(new Error('after an oversize message'));
  await checkStreamMessages(target, [{ binary: false, text: '{"stream_id": "cam-1", "features": []}' }]);
}

export const streamProperty = defineProperty<StreamMessage[]>({
  name: 'every bad stream message gets an error and the socket stays open',
  arb: fc.array(streamMessage, { minLength: 1, maxLength: 6 }),
  runs: 150,
  describe: (ms) => ms.map((m, i) => `#${i + 1} ${describeStreamMessage(m)}`).join('\n'),
  check: checkStreamMessages,
});

export const oversizeProperty = defineProperty<StreamMessage>({
  name: 'a stream message over the size limit closes only its socket',
  arb: fc.oneof(
    fc.record({ n: fc.integer({ min: MAX_WS_MESSAGE + 1, max: 3 * MAX_WS_MESSAGE }), fill: fc.constantFrom('[', 'a', ' ', '0,') }).map(({ n, fill }) => ({ binary: false as const, text: `{"stream_id":"cam-1","features":${fill.repeat(Math.ceil(n / fill.length))}` })),
    fc.integer({ min: MAX_WS_MESSAGE + 1, max: 3 * MAX_WS_MESSAGE }).map((n) => ({ binary: true as const, bytes: Buffer.alloc(n, 1) })),
  ),
  runs: 6,
  describe: (m) => describeStreamMessage(m),
  check: checkOversize,
});

/** Reads the event log and checks each line is JSON and every acknowledged event is there. */
export function checkEventLog(text: string, ids: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (!line) return;
    try {
      seen.add(JSON.parse(line).event_id);
    } catch {
      problems.push(`line ${i + 1} is not JSON: ${describeBytes(Buffer.from(line), 200)}`);
    }
  });
  const missing = ids.filter((id) => !seen.has(id));
  if (missing.length) problems.push(`${missing.length} acknowledged event(s) missing from the log, e.g. ${missing.slice(0, 3).join(', ')}`);
  return problems;
}

export const ALL_PROPERTIES = [httpProperty, nestingProperty, agreementProperty, streamProperty, oversizeProperty] as FuzzProperty<unknown>[];
