/**
 * When a stream's window is analysed: once the window is full, every `stride` frames; one analysis
 * at a time, and while one is in flight only the newest due window waits for it (a newer one
 * supersedes it), so a slow model never piles up work. The server's streams follow it, and the
 * demo agent too, to count what it should get back.
 */
export type DueWindow = 'run' | 'wait' | 'supersede';

export class AnalysisSchedule {
  private size = 0;
  private sinceAnalysis = 0;
  private running = false;
  private waiting = false;

  constructor(readonly window: number, readonly stride: number) {}

  /** An analysis is in flight (or one waits for it). */
  get busy(): boolean {
    return this.running;
  }

  /** One more frame; true when it completes a window that is due for analysis. */
  push(): boolean {
    if (this.size < this.window) this.size++;
    this.sinceAnalysis++;
    if (this.size < this.window || this.sinceAnalysis < this.stride) return false;
    this.sinceAnalysis = 0;
    return true;
  }

  /** A window came due: `run` it now, or it waits for the analysis in flight (`supersede`: in place of one already waiting). */
  due(): DueWindow {
    if (!this.running) {
      this.running = true;
      return 'run';
    }
    const superseded = this.waiting;
    this.waiting = true;
    return superseded ? 'supersede' : 'wait';
  }

  /** The analysis in flight is over; true when a waiting window should run now (it is then in flight). */
  finished(): boolean {
    this.running = this.waiting;
    this.waiting = false;
    return this.running;
  }
}
