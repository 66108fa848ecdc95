// Clocks for the engine: the real one, and a manual one that tests advance deterministically.
import type { Clock, TimerHandle } from '../transport/types.js';

/** Wall-clock monotonic time (performance.now) and setTimeout; timers do not keep the process alive. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, Math.max(0, delayMs));
    t.unref?.();
    return t;
  },
  clearTimer(handle: TimerHandle): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to. `advance(ms)` fires every due timer in deadline order
 * (ties in the order they were set), with `now()` equal to each timer's deadline while it runs.
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const timer: ManualTimer = { at: this.t + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return timer;
  }

  clearTimer(handle: TimerHandle): void {
    if (handle && typeof handle === 'object') (handle as ManualTimer).cancelled = true;
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.timers.filter((x) => !x.cancelled).length;
  }

  /** The earliest pending deadline, or undefined. */
  nextAt(): number | undefined {
    let at: number | undefined;
    for (const x of this.timers) if (!x.cancelled && (at === undefined || x.at < at)) at = x.at;
    return at;
  }

  /** Moves time forward by `ms`, firing due timers (including ones they set) in order. */
  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }

  advanceTo(target: number): void {
    for (;;) {
      this.timers = this.timers.filter((x) => !x.cancelled);
      let next: ManualTimer | undefined;
      for (const x of this.timers) if (x.at <= target && (!next || x.at < next.at || (x.at === next.at && x.seq < next.seq))) next = x;
      if (!next) break;
      next.cancelled = true;
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = Math.max(this.t, target);
  }
}
