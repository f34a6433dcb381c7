/**
 * Kakao on one replica of the NATS store: the tokens come from the bucket every replica shares,
 * the cooldowns from another, END memos from the consumer every replica pulls from, and the
 * outcomes of the memos other replicas send from the claims they settle. All start once the store
 * is usable: at start when NATS answers (a consumer with other settings then stops the server
 * before it is ready), else when NATS first answers; until then this replica sends no memo (the
 * alerts wait in the stream for whichever replica takes them) and its token check says why.
 */
import type { Logger } from 'pino';
import type { AlertRequest, KakaoConfig } from '../../../src/contracts/writer.js';
import { errorMessage } from '../../../src/common/errors.js';
import { QUEUE_MAX, type KakaoAlerts } from '../kakao-alerts.js';
import type { KakaoTokens } from '../kakao-tokens.js';
import { AlertConsumer } from './alert-consumer.js';
import type { NatsContext, NatsHandles } from './context.js';
import { CooldownBucket } from './cooldown-bucket.js';
import { TokenBucket } from './token-bucket.js';

export interface AlertReplicaDeps {
  context: NatsContext;
  tokens: KakaoTokens;
  alerts: KakaoAlerts;
  kakao: Pick<KakaoConfig, 'timeoutMs' | 'maxAgeSec' | 'cooldownSec'>;
  /** What became of a memo another replica settled. */
  settledElsewhere(eventId: string, delivered: boolean, reason: string | null): void;
  logger: Logger;
}

export class AlertReplica {
  private readonly deps: AlertReplicaDeps;
  private bucket: TokenBucket | null = null;
  private consumer: AlertConsumer | null = null;
  private opening: Promise<void> | null = null;
  private stopListening: (() => void) | null = null;

  constructor(deps: AlertReplicaDeps) {
    this.deps = deps;
  }

  /** Starts now if the store is usable (rejecting with the reason when it cannot), else once it is. */
  start(): Promise<void> {
    this.deps.tokens.awaitStore('the NATS store');
    let atStart = true;
    this.stopListening = this.deps.context.onUsable((handles) => {
      // After a reconnection the parts carry on by themselves.
      if (this.opening) return;
      this.opening = this.open(handles);
      // Started later, when NATS first answered: nobody awaits it; the next reconnection tries again.
      if (!atStart) {
        this.opening.catch((err: unknown) => {
          this.deps.logger.error({ err: errorMessage(err) }, 'cannot start Kakao memos on NATS; this replica sends none for now');
          this.opening = null;
        });
      }
    });
    atStart = false;
    if (this.opening) return this.opening;
    this.deps.logger.info('Kakao memos start once NATS answers');
    return Promise.resolve();
  }

  /** What became of an alert this replica took from the stream (KakaoAlerts' outcome). */
  settle(alert: AlertRequest, delivered: boolean, reason: string | null): void {
    this.consumer?.settle(alert, delivered, reason);
  }

  /** Stops taking alerts; those in hand stay until KakaoAlerts settles them. */
  async stop(): Promise<void> {
    this.stopListening?.();
    await this.opening?.catch(() => {});
    await this.consumer?.stop();
  }

  /** After KakaoAlerts has closed: the last acknowledgements, then the bucket. */
  async close(graceMs: number): Promise<void> {
    await this.stop();
    await this.consumer?.close(graceMs);
    await this.bucket?.close();
  }

  private async open(handles: NatsHandles): Promise<void> {
    const { context, tokens, alerts, kakao, settledElsewhere, logger } = this.deps;
    const { stream, replicas } = context.config;
    const { replicaId } = context;
    // A refresh turn is one Kakao call and a few bucket writes.
    this.bucket = await TokenBucket.open({ kvm: handles.kvm, stream, replicas, replicaId, leaseMs: kakao.timeoutMs + 10_000, logger });
    await tokens.load(this.bucket);
    tokens.start();
    if (kakao.cooldownSec > 0) alerts.useCooldowns(await CooldownBucket.open({ kvm: handles.kvm, stream, replicas, replicaId, logger }));
    // Alerts older than the max age would be dropped as stale; without one, a day's are taken.
    const lookbackMs = (kakao.maxAgeSec > 0 ? kakao.maxAgeSec : 86_400) * 1000;
    this.consumer = await AlertConsumer.start({ ...handles, stream, replicas, replicaId, queue: alerts, capacity: QUEUE_MAX, lookbackMs, settledElsewhere, logger });
  }
}
