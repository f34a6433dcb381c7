/**
 * The writer thread: group-commits the event log and sends Kakao alerts, so neither the disk nor
 * Kakao ever runs on the request path. Appends, reopens and the close are handled strictly in
 * the order they arrive; Kakao work is asynchronous beside them and never holds a write back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { KakaoCounter, WriterIn, WriterInit, WriterOut, KakaoDebugCall } from '../src/contracts/writer.js';
import { assertNever, errorMessage } from '../src/common/errors.js';
import { createLogger } from '../src/common/log.js';
import { NullSink, type EventSink } from './writer/event-sink.js';
import { JsonlSink } from './writer/jsonl-sink.js';
import { NatsContext } from './writer/nats/context.js';
import { NatsSink } from './writer/nats/nats-sink.js';
import { AlertReplica } from './writer/nats/alert-replica.js';
import { IdempotencyBucket } from './writer/nats/idempotency-bucket.js';
import { KakaoAlerts } from './writer/kakao-alerts.js';
import { KakaoClient } from './writer/kakao-client.js';
import { KakaoTokens } from './writer/kakao-tokens.js';

/** At shutdown, how long the last acknowledgements of memos (or their handing back) may take. */
const ACKS_GRACE_MS = 2000;

type AppendMessage = Extract<WriterIn, { type: 'append' }>;
type OrderedMessage = Extract<WriterIn, { type: 'append' | 'reopen' | 'close' }>;

const init = workerData as WriterInit;
const port = parentPort!;
const logger = createLogger(init.logLevel, { thread: 'writer' });
const post = (message: WriterOut) => port.postMessage(message);
/** Kakao news waiting to be posted: sent once per turn of the event loop, however many ENDs it covers. */
const news: Extract<WriterOut, { type: 'kakao-news' }> = { type: 'kakao-news', counts: [], outcomes: [] };
let newsPosting = false;
const postNews = () => {
  if (newsPosting) return;
  newsPosting = true;
  setImmediate(() => {
    newsPosting = false;
    post({ type: 'kakao-news', counts: news.counts.splice(0), outcomes: news.outcomes.splice(0) });
  });
};
const report = (counter: KakaoCounter, label: string) => {
  news.counts.push({ counter, label });
  postNews();
};

// Until 'ready' (which carries the state) the client is not listening for changes.
const onHealth = (problem: string | null) => { if (started) post({ type: 'health', problem }); };
/** The NATS connection every NATS part of this thread shares (store 'nats' only). */
const nats = init.events.store === 'nats' ? new NatsContext({ config: init.events.nats!, logger, onHealth }) : null;
const sink: EventSink = nats
  ? new NatsSink(nats)
  : init.events.logPath
    ? new JsonlSink({
      path: init.events.logPath,
      fsync: init.events.fsync,
      fsyncIntervalMs: init.events.fsyncIntervalMs,
      logger,
      onHealth,
    })
    : new NullSink();
const client = new KakaoClient({ apiBaseUrl: init.kakao.apiBaseUrl, authBaseUrl: init.kakao.authBaseUrl, timeoutMs: init.kakao.timeoutMs });
const reportOutcome = (eventId: string, delivered: boolean, reason: string | null) => {
  news.outcomes.push({ event_id: eventId, delivered, reason });
  postNews();
};
const tokens = new KakaoTokens({ config: init.kakao, client, logger, report });
const alerts = new KakaoAlerts({
  config: init.kakao, client, tokens, logger, report,
  outcome: (alert, delivered, reason) => {
    reportOutcome(alert.event_id, delivered, reason);
    alertReplica?.settle(alert, delivered, reason);
  },
});
/**
 * Store 'nats': memos come from the consumer every replica shares, tokens and cooldowns from their
 * shared buckets, and the outcomes of the memos other replicas send from their claims.
 */
const alertReplica = nats ? new AlertReplica({ context: nats, tokens, alerts, kakao: init.kakao, settledElsewhere: reportOutcome, logger }) : null;
/** Store 'nats': Idempotency-Keys shared by every replica (the file store keeps them in the main thread's memory). */
const idempotencyKeys = nats ? new IdempotencyBucket(nats, init.idempotency) : null;

const ordered: OrderedMessage[] = [];
let started = false;
let pumping = false;
let closing = false;

if (!alertReplica) tokens.load();
const tail = await sink.start(init.events.keepRecent, (lines, positions, alerted) => post({ type: 'followed', lines, positions, alerted }));
// A consumer with other settings throws here, before 'ready'.
if (alertReplica) await alertReplica.start();
else tokens.start();
port.on('message', (message: WriterIn) => {
  try {
    handle(message);
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'bug: the writer thread could not handle a message');
  }
});
post({ type: 'ready', tail: tail.lines, tailPositions: tail.positions ?? null, tornBytes: tail.torn?.bytes ?? 0, oversizedLines: tail.oversized, problem: sink.problem() });
started = true;

function handle(message: WriterIn): void {
  switch (message.type) {
    case 'append':
    case 'reopen':
    case 'close':
      ordered.push(message);
      // setImmediate, not a microtask: every message already waiting joins this group commit.
      if (!pumping) {
        pumping = true;
        setImmediate(() => pump().catch((err: unknown) => {
          // A bug, not a disk error (those are answered as 'failed'): report it, keep serving.
          logger.error({ err: errorMessage(err) }, 'bug: the writer thread failed handling its queue');
          pumping = false;
        }));
      }
      return;
    case 'kakao-call':
      void answer(message.id, message.call);
      return;
    case 'page':
      sink.page(message.query).then(
        (page) => post({ type: 'page-reply', id: message.id, page, error: null }),
        (err: unknown) => post({ type: 'page-reply', id: message.id, page: null, error: errorMessage(err) }),
      );
      return;
    case 'key-claim': {
      const claim = idempotencyKeys?.claim(message.key, message.fingerprint, message.eventId)
        ?? Promise.resolve({ kind: 'unavailable', reason: 'Idempotency-Keys are shared only on the NATS store' } as const);
      void claim.then((outcome) => post({ type: 'key-reply', id: message.id, claim: outcome }));
      return;
    }
    case 'key-settle':
      idempotencyKeys?.settle(message.key, message.fingerprint, message.revision, message.eventId, message.written);
      return;
    default:
      assertNever(message, 'message to the writer thread');
  }
}

async function pump(): Promise<void> {
  while (ordered.length > 0) {
    const next = ordered[0]!;
    switch (next.type) {
      case 'append':
        await writeBatches(takeAppends());
        break;
      case 'reopen':
        ordered.shift();
        await sink.reopen();
        break;
      case 'close':
        ordered.shift();
        await shutdown(next.kakaoGraceMs);
        return;
      default:
        assertNever(next, 'ordered message');
    }
  }
  pumping = false;
}

function takeAppends(): AppendMessage[] {
  let n = 0;
  while (n < ordered.length && ordered[n]!.type === 'append') n++;
  return ordered.splice(0, n) as AppendMessage[];
}

/** One write for everything waiting; acknowledged by the highest sequence number in it. */
async function writeBatches(batches: AppendMessage[]): Promise<void> {
  const last = batches[batches.length - 1]!;
  const count = batches.reduce((sum, b) => sum + b.count, 0);
  let positions: number[] | void;
  try {
    positions = await sink.append(batches.length === 1 ? last.lines : batches.map((b) => b.lines).join(''), batches.flatMap((b) => b.alerts));
  } catch (err) {
    post({ type: 'failed', seq: last.seq, error: { code: 'event_log_unavailable', message: errorMessage(err) } });
    return;
  }
  post({ type: 'written', seq: last.seq, count, positions: positions ?? null });
  if (!sink.sendsAlerts) for (const batch of batches) for (const alert of batch.alerts) alerts.enqueue(alert);
}

async function answer(id: number, call: KakaoDebugCall): Promise<void> {
  let body: Record<string, unknown>;
  try {
    if (closing) body = { ok: false, err: 'the server is shutting down' };
    else if (call.kind === 'token-check') body = await tokens.tokenCheck();
    else if (call.kind === 'send-test') body = await alerts.sendTest(call.text);
    else assertNever(call, 'Kakao debug call');
  } catch (err) {
    body = { ok: false, err: errorMessage(err) };
  }
  post({ type: 'kakao-reply', id, body });
}

/** The log first (its lines are what must not be lost), then Kakao within its grace. */
async function shutdown(kakaoGraceMs: number): Promise<void> {
  closing = true;
  try {
    await alertReplica?.stop(); // memos in hand are sent within the grace or handed back to the other replicas
    await sink.close();
    await alerts.close(kakaoGraceMs);
    tokens.close();
    await client.close();
    await alerts.settled();
    await alertReplica?.close(ACKS_GRACE_MS);
    await idempotencyKeys?.close();
    await nats?.close(); // last: the NATS parts above may still use the connection
  } finally {
    post({ type: 'closed' }); // the main thread waits for this, whatever went wrong above
  }
}
