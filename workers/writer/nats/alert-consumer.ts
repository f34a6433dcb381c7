/**
 * END memos of the NATS store: every replica pulls from one durable consumer on `<stream>.alert`,
 * so each alert goes to one replica's KakaoAlerts queue (cooldown, back-off, quota pause, stale
 * drop). An alert is claimed before it is queued (alert-claims.ts) and settled by its outcome:
 * delivered, or undelivered for a reason any replica would meet too (stale, no_token, quota_paused,
 * a refusal by Kakao…): the claim is marked with it, then the message acknowledged. Undelivered
 * because this replica is closing (or its queue overflowed, or its tokens are not loaded yet): the
 * claim is let go and the message handed back (nak), so another replica sends it. The other
 * replicas' final claims are followed: this replica learns every memo's outcome, for its watch page.
 *
 * Ack wait is ACK_WAIT_MS: the messages in hand are kept alive every WORKING_EVERY_MS while
 * KakaoAlerts retries, so only a replica that stops answering (killed, frozen) has its messages
 * redelivered, to another replica, within seconds; that replica takes the claims over once their
 * lease (CLAIM_LEASE_MS) has run out. At most `capacity` messages are in hand, the queue's size, so
 * pulling never makes the queue drop an alert.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type Consumer, type ConsumerConfig, type ConsumerInfo, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { Kvm } from '@nats-io/kv';
import type { AlertRequest } from '../../../src/contracts/writer.js';
import { errorMessage } from '../../../src/common/errors.js';
import { ALERT_HEADER, alertSubject, decodeAlert } from '../../../src/common/event-stream.js';
import { AlertClaims, type ClaimOutcome } from './alert-claims.js';
import { isWrongRevision } from './kv-revision.js';

/** The durable consumer every replica pulls alerts from. */
export const ALERT_CONSUMER = 'kakao-alerts';
/** An unacknowledged alert is redelivered after this; WORKING_EVERY_MS keeps the ones in hand alive. */
export const ACK_WAIT_MS = 6_000;
const WORKING_EVERY_MS = 2_000;
/** Alerts in hand across all replicas; past this the server holds further ones back. */
const MAX_ACK_PENDING = 1_000;
const PULL_EXPIRES_MS = 5_000;
/** After a failed pull (NATS unreachable), wait this long before the next. */
const PULL_RETRY_MS = 1_000;
/** A claim that could not be read or written (NATS trouble): the alert comes back after this. */
const CLAIM_RETRY_MS = 1_000;
/** Outcomes that another replica would not meet: the alert is handed back for it. */
const HANDED_BACK = new Set(['shutdown', 'queue_full', 'token_store_unreachable']);
/** Settings an existing consumer must have; others only matter when it is created. */
const CHECKED_SETTINGS = ['filter_subject', 'ack_policy', 'ack_wait', 'max_deliver', 'max_ack_pending'] as const;

export interface AlertConsumerDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  kvm: Kvm;
  stream: string;
  /** Replicas of the claims bucket, as the stream's. */
  replicas: number;
  replicaId: string;
  /** KakaoAlerts: it reports each alert's outcome, which the writer passes to settle(). */
  queue: { enqueue(alert: AlertRequest): void };
  /** Alerts the queue takes without dropping one. */
  capacity: number;
  /** What became of a memo another replica settled (this replica's own come from the queue). */
  settledElsewhere(eventId: string, delivered: boolean, reason: string | null): void;
  /**
   * Creating the consumer, alerts already in the stream up to this old are delivered too: those
   * stored while no replica had created it yet (NATS answered only after start). Older ones would
   * be dropped as stale anyway.
   */
  lookbackMs: number;
  logger: Logger;
}

/** A message in this replica's hands. */
interface Held {
  msg: JsMsg;
  eventId: string;
  /** The claim's revision once this replica holds it. */
  revision: number | null;
  /** Claim writes, one after another. */
  writes: Promise<void>;
  settling: boolean;
}

export class AlertConsumer {
  private readonly deps: AlertConsumerDeps;
  private readonly claims: AlertClaims;
  private readonly held = new Set<Held>();
  private readonly byAlert = new Map<AlertRequest, Held>();
  private readonly consumer: Consumer;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly pulling: Promise<void>;
  private readonly stopFollowing: () => void;
  private batch: ConsumerMessages | null = null;
  /** Woken when a message leaves this replica's hands. */
  private roomWaiters: Array<() => void> = [];
  private stopping = false;

  private constructor(deps: AlertConsumerDeps, consumer: Consumer, claims: AlertClaims, stopFollowing: () => void) {
    this.deps = deps;
    this.consumer = consumer;
    this.claims = claims;
    this.stopFollowing = stopFollowing;
    this.heartbeat = setInterval(() => this.keepAlive(), WORKING_EVERY_MS).unref();
    this.pulling = this.pull();
  }

  /**
   * Creates the consumer (or checks the one there: other settings are refused with one line to
   * act on), opens the claims bucket and starts pulling.
   */
  static async start(deps: AlertConsumerDeps): Promise<AlertConsumer> {
    await ensureConsumer(deps.jsm, deps.stream, deps.lookbackMs);
    const claims = await AlertClaims.open(deps.kvm, deps.stream, deps.replicas, deps.replicaId);
    const consumer = await deps.js.consumers.get(deps.stream, ALERT_CONSUMER);
    const stopFollowing = await claims.followSettled(({ eventId, state, reason }) => deps.settledElsewhere(eventId, state === 'sent', reason), deps.logger);
    return new AlertConsumer(deps, consumer, claims, stopFollowing);
  }

  /** What became of an alert: the claim is marked and the message acknowledged, or both handed back. */
  settle(alert: AlertRequest, delivered: boolean, reason: string | null): void {
    const held = this.byAlert.get(alert);
    if (!held) return;
    this.byAlert.delete(alert);
    held.settling = true;
    if (reason !== null && HANDED_BACK.has(reason)) return this.handBack(held);
    void this.write(held, (revision) => this.claims.finish(held.eventId, revision, delivered ? 'sent' : 'dropped', reason)).then(() => {
      respond(held.msg, 'ack');
      this.drop(held);
    });
  }

  /** Stops pulling and following; the alerts in hand stay until settled (KakaoAlerts closing settles them). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopFollowing();
    this.wakeRoomWaiters();
    await this.batch?.close();
    await this.pulling;
  }

  /** After the queue has closed: waits up to `graceMs` for the last acknowledgements to be sent. */
  async close(graceMs: number): Promise<void> {
    await this.stop();
    const deadline = Date.now() + graceMs;
    while (this.held.size > 0 && Date.now() < deadline) {
      await Promise.race([new Promise<void>((resolve) => this.roomWaiters.push(resolve)), sleep(deadline - Date.now(), undefined, { ref: false })]);
    }
    clearInterval(this.heartbeat);
  }

  /** Pulls as many messages as there is room for, again and again. */
  private async pull(): Promise<void> {
    const { capacity, logger } = this.deps;
    let failing = false;
    while (!this.stopping) {
      const room = capacity - this.held.size;
      if (room <= 0) {
        await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
        continue;
      }
      try {
        this.batch = await this.consumer.fetch({ max_messages: room, expires: PULL_EXPIRES_MS });
        if (this.stopping) await this.batch.close();
        for await (const msg of this.batch) void this.take(msg);
        if (failing) logger.info('pulling Kakao alerts again');
        failing = false;
      } catch (err) {
        if (this.stopping) break;
        // One line per outage: the connection reconnects by itself.
        if (!failing) logger.warn({ err: errorMessage(err) }, 'cannot pull Kakao alerts from NATS; retrying');
        failing = true;
        await sleep(PULL_RETRY_MS);
      } finally {
        this.batch = null;
      }
    }
  }

  /** Claims the alert and queues it; a claim held elsewhere or already final is not sent from here. */
  private async take(msg: JsMsg): Promise<void> {
    const held: Held = { msg, eventId: '', revision: null, writes: Promise.resolve(), settling: false };
    this.held.add(held);
    const { logger } = this.deps;
    const alert = decodeAlert(msg.headers?.get(ALERT_HEADER) ?? '');
    if (!alert) {
      logger.error({ seq: msg.seq }, 'an alert message without a valid alert header; dropped');
      respond(msg, 'term');
      return this.drop(held);
    }
    held.eventId = alert.event_id;
    let claim: ClaimOutcome;
    try {
      claim = await this.claims.claim(alert.event_id);
    } catch (err) {
      logger.warn({ err: errorMessage(err), event_id: alert.event_id }, 'cannot claim a Kakao alert; it comes back shortly');
      respond(msg, 'nak', CLAIM_RETRY_MS);
      return this.drop(held);
    }
    if (claim.kind === 'final') {
      logger.debug({ event_id: alert.event_id, state: claim.state, by: claim.replica }, 'Kakao alert delivered again after it was settled; not sent again');
      respond(msg, 'ack');
      return this.drop(held);
    }
    if (claim.kind === 'held') {
      respond(msg, 'nak', claim.retryInMs + 250);
      return this.drop(held);
    }
    held.revision = claim.revision;
    if (this.stopping) return this.handBack(held);
    this.byAlert.set(alert, held);
    this.deps.queue.enqueue(alert);
  }

  /** Lets the claim go and hands the message back, for another replica to send at once. */
  private handBack(held: Held): void {
    held.settling = true;
    void this.write(held, (revision) => this.claims.release(held.eventId, revision)).then(() => {
      respond(held.msg, 'nak');
      this.drop(held);
    });
  }

  /** Tells the server the messages in hand are being worked on, and renews their claims. */
  private keepAlive(): void {
    for (const held of this.held) {
      if (held.settling) continue;
      respond(held.msg, 'working');
      if (held.revision === null) continue;
      void this.write(held, async (revision) => {
        try {
          held.revision = await this.claims.renew(held.eventId, revision);
        } catch (err) {
          if (!isWrongRevision(err)) throw err;
          // This replica stalled past the lease and another took the alert over: both may send it.
          this.deps.logger.warn({ event_id: held.eventId }, 'another replica took over a Kakao alert this replica is still sending');
          held.revision = null;
        }
      });
    }
  }

  /** Runs a claim write after the previous ones, while the claim is this replica's; a failure is logged, never thrown. */
  private write(held: Held, step: (revision: number) => Promise<void>): Promise<void> {
    held.writes = held.writes.then(async () => {
      if (held.revision === null) return;
      try {
        await step(held.revision);
      } catch (err) {
        this.deps.logger.warn({ err: errorMessage(err), event_id: held.eventId }, 'cannot update a Kakao alert claim');
      }
    });
    return held.writes;
  }

  private drop(held: Held): void {
    this.held.delete(held);
    this.wakeRoomWaiters();
  }

  private wakeRoomWaiters(): void {
    for (const resolve of this.roomWaiters.splice(0)) resolve();
  }
}

/** Creates the durable consumer, or checks that the one there has these settings. */
async function ensureConsumer(jsm: JetStreamManager, stream: string, lookbackMs: number): Promise<void> {
  const wanted: Partial<ConsumerConfig> = {
    durable_name: ALERT_CONSUMER,
    filter_subject: alertSubject(stream),
    ack_policy: AckPolicy.Explicit,
    ack_wait: ACK_WAIT_MS * 1_000_000,
    max_deliver: -1,
    max_ack_pending: MAX_ACK_PENDING,
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(Date.now() - lookbackMs).toISOString(),
  };
  let info: ConsumerInfo;
  try {
    info = await jsm.consumers.info(stream, ALERT_CONSUMER);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
    // Server 2.9 updates a consumer that exists in the meantime: no worse than the check below.
    info = await jsm.consumers.add(stream, wanted);
  }
  const differing = CHECKED_SETTINGS.filter((key) => info.config[key] !== wanted[key]);
  if (differing.length > 0) {
    const settings = differing.map((key) => `${key} ${String(info.config[key])}, not ${String(wanted[key])}`).join('; ');
    throw new Error(`NATS consumer ${ALERT_CONSUMER} on stream ${stream} has other settings (${settings}): remove it (nats consumer rm ${stream} ${ALERT_CONSUMER}) and start again`);
  }
}

/** Answers the server about a message; on a closed connection there is no one to tell (it redelivers). */
function respond(msg: JsMsg, answer: 'ack' | 'nak' | 'term' | 'working', delayMs?: number): void {
  try {
    if (answer === 'nak') msg.nak(delayMs);
    else msg[answer]();
  } catch {
    // redelivered after the ack wait
  }
}
