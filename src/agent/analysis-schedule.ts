/**
 * When an analysis is due: once the window is full, every `stride` frames — the rule the server
 * applies to a stream, so the agent can count what it should get back.
 */
export class AnalysisSchedule {
  private size = 0;
  private sinceAnalysis = 0;

  constructor(readonly window: number, readonly stride: number) {}

  /** One more frame; true when it completes a window that is due for analysis. */
  push(): boolean {
    if (this.size < this.window) this.size++;
    this.sinceAnalysis++;
    if (this.size < this.window || this.sinceAnalysis < this.stride) return false;
    this.sinceAnalysis = 0;
    return true;
  }
}
