// When the dashboard re-reads its figures: after a burst of events has settled, never twice within
// `minGapMs`, and now and then without events (figures such as ages and compliance move with
// time alone). Thousands of consoles open at once must not turn every event into a query each.

export interface RefreshTiming {
  /** Quiet time after the last event before re-reading (a burst is one refresh). */
  debounceMs: number;
  /** A steady stream of events still refreshes this long after its first event... */
  maxWaitMs: number;
  /** ...but never sooner than this after the previous refresh started. */
  minGapMs: number;
  /** Without events, refresh this long after the previous one. */
  idleMs: number;
}

export const DASHBOARD_TIMING: RefreshTiming = {
  debounceMs: 1_000,
  maxWaitMs: 5_000,
  minGapMs: 10_000,
  idleMs: 60_000,
};

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Runs `refresh` at the times above; one run at a time. */
export class RefreshScheduler {
  private timer: unknown;
  private running = false;
  private stopped = true;
  private lastStart = Number.NEGATIVE_INFINITY;
  private firstPending: number | null = null;
  private lastPending: number | null = null;

  constructor(
    private readonly refresh: () => Promise<void>,
    private readonly timing: RefreshTiming = DASHBOARD_TIMING,
    private readonly timers: Timers = realTimers,
  ) {
    if (timing.minGapMs > timing.idleMs) throw new RangeError('idleMs must not be shorter than minGapMs');
  }

  /** Refresh now (the user opened the dashboard or changed its scope), then keep the schedule. */
  start(): void {
    this.stopped = false;
    this.lastStart = Number.NEGATIVE_INFINITY;
    if (this.running) this.changed();
    else void this.fire();
  }

  /** Something changed on the server: refresh once the burst settles, within the limits. */
  changed(): void {
    if (this.stopped) return;
    const now = this.timers.now();
    this.firstPending ??= now;
    this.lastPending = now;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.firstPending = null;
    this.lastPending = null;
  }

  /** When the next refresh is due (epoch ms). */
  private nextAt(): number {
    if (this.firstPending === null || this.lastPending === null) return this.lastStart + this.timing.idleMs;
    const settled = Math.min(this.lastPending + this.timing.debounceMs, this.firstPending + this.timing.maxWaitMs);
    return Math.max(settled, this.lastStart + this.timing.minGapMs);
  }

  private schedule(): void {
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped || this.running) return; // the running refresh schedules the next one when done
    this.timer = this.timers.setTimeout(() => void this.fire(), Math.max(0, this.nextAt() - this.timers.now()));
  }

  private async fire(): Promise<void> {
    if (this.stopped) return;
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.running = true;
    this.lastStart = this.timers.now();
    // Events from now on are not seen by this refresh: they start a new pending burst.
    this.firstPending = null;
    this.lastPending = null;
    try {
      await this.refresh();
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}
