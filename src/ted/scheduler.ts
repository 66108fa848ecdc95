// The gateway's deadlines (probe retransmissions, hold-down and tunnel expiry) in one min-heap,
// with a single clock timer armed for the earliest: the clock sees one timer per gateway however
// many probes and tunnels there are.
import type { Clock, TimerHandle } from '../transport/types.js';

export interface Deadline {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class Scheduler {
  private heap: Deadline[] = [];
  private seq = 0;
  private timer: TimerHandle | undefined;
  private armedAt = Infinity;
  private closed = false;
  private cancelledCount = 0;

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.heap.length;
  }

  at(time: number, fn: () => void): Deadline {
    const d: Deadline = { at: time, seq: this.seq++, fn, cancelled: false };
    this.push(d);
    this.arm();
    return d;
  }

  after(delayMs: number, fn: () => void): Deadline {
    return this.at(this.clock.now() + delayMs, fn);
  }

  cancel(d: Deadline | undefined): void {
    if (!d || d.cancelled) return;
    d.cancelled = true;
    // Cancelled deadlines wait in the heap until their time; rebuild when they dominate, so a
    // flood of short-lived probes cannot grow it.
    if (++this.cancelledCount > 1024 && this.cancelledCount * 2 > this.heap.length) this.compact();
  }

  private compact(): void {
    const live = this.heap.filter((d) => !d.cancelled);
    this.heap = [];
    this.cancelledCount = 0;
    for (const d of live) this.push(d);
  }

  /** Runs every deadline due at the clock's current time. */
  run(): void {
    const now = this.clock.now();
    for (;;) {
      const top = this.heap[0];
      if (!top || top.at > now) break;
      this.pop();
      if (top.cancelled) this.cancelledCount--;
      else {
        top.cancelled = true;
        top.fn();
      }
    }
    this.arm();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.heap = [];
  }

  private arm(): void {
    if (this.closed) return;
    while (this.heap.length && this.heap[0]!.cancelled) {
      this.pop();
      this.cancelledCount--;
    }
    const next = this.heap[0]?.at ?? Infinity;
    if (next === this.armedAt) return;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.armedAt = next;
    if (next === Infinity) return;
    this.timer = this.clock.setTimer(Math.max(0, next - this.clock.now()), () => {
      this.timer = undefined;
      this.armedAt = Infinity;
      this.run();
    });
  }

  private less(a: Deadline, b: Deadline): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(d: Deadline): void {
    const h = this.heap;
    h.push(d);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Deadline | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
