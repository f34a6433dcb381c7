/**
 * The access log: one line per answered request (`all`) or per 4xx/5xx answer (`errors`), through
 * the process logger. Rate-limited, because a client that floods the server with bad requests must
 * not be able to fill the disk with log lines: past the limit, lines are counted and one summary
 * line a second says how many were left out.
 */
import type { AccessLogMode } from '../config.js';
import type { Logger } from '../common/log.js';

/** The path is client input: longer ones are cut, so one request cannot write a megabyte line. */
export const ACCESS_LOG_MAX_PATH = 200;

export interface AccessLogOptions {
  mode: AccessLogMode;
  /** Steady rate; a burst of as many more may go out at once. */
  linesPerSecond: number;
}

export class AccessLog {
  private readonly mode: AccessLogMode;
  private readonly rate: number;
  private tokens: number;
  private refilledAt = performance.now();
  private suppressed = 0;
  private suppressedSince = 0;

  constructor(options: AccessLogOptions, private readonly logger: Logger) {
    this.mode = options.mode;
    this.rate = options.linesPerSecond;
    this.tokens = this.rate;
  }

  /** Called once per answered request; `startedAt` is its performance.now() on arrival. */
  record(method: string, path: string, status: number, startedAt: number): void {
    if (this.mode === 'off' || (this.mode === 'errors' && status < 400)) return;
    const now = performance.now();
    if (!this.take(now)) return this.suppress(now);
    const shown = path.length > ACCESS_LOG_MAX_PATH ? `${path.slice(0, ACCESS_LOG_MAX_PATH)}…` : path;
    const line = { method, path: shown, status, duration_ms: Math.round((now - startedAt) * 100) / 100 };
    // A 5xx is the server's problem: it shows at BACKEND_LOG_LEVEL=warn too.
    if (status >= 500) this.logger.warn(line, `${method} ${shown} ${status}`);
    else this.logger.info(line, `${method} ${shown} ${status}`);
  }

  /** Token bucket: `rate` tokens a second, at most `rate` saved up. */
  private take(now: number): boolean {
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.refilledAt) / 1000) * this.rate);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private suppress(now: number): void {
    if (this.suppressed++ > 0) return;
    this.suppressedSince = now;
    setTimeout(() => this.summarize(), 1000).unref(); // never holds the process open at shutdown
  }

  private summarize(): void {
    const seconds = (performance.now() - this.suppressedSince) / 1000;
    this.logger.info(
      { suppressed: this.suppressed, limit_per_second: this.rate },
      `access log: ${this.suppressed} lines suppressed in the last ${seconds.toFixed(1)} s`,
    );
    this.suppressed = 0;
  }
}
