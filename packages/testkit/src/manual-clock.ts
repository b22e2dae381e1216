import type { Clock } from '@zonewright/zone';

interface ManualTimer {
  readonly id: number;
  readonly due: number;
  readonly callback: () => void;
}

/**
 * A clock for tests that only moves when told to; timers fire in due order during {@link ManualClock.advance}.
 * Products take the zone package's `Clock` and get `systemClock` in production.
 */
export class ManualClock implements Clock {
  private current: number;
  private nextId = 1;
  private timers: ManualTimer[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, delayMs: number): unknown {
    const timer = { id: this.nextId, due: this.current + Math.max(0, delayMs), callback };
    this.nextId += 1;
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  }

  /** Number of timers waiting. */
  pending(): number {
    return this.timers.length;
  }

  /** How long from now each waiting timer is due, in the order they were set. */
  pendingDelays(): number[] {
    return this.timers.map((timer) => timer.due - this.current);
  }

  /**
   * Moves time forward by `ms`, firing due timers in order; between timers it lets promises settle, so
   * async work started by a timer (a zone write) completes before time moves on.
   */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      await settle();
      const next = this.timers
        .filter((timer) => timer.due <= target)
        .sort((a, b) => a.due - b.due || a.id - b.id)[0];
      if (next === undefined) break;
      this.timers = this.timers.filter((timer) => timer !== next);
      this.current = Math.max(this.current, next.due);
      next.callback();
    }
    this.current = target;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let round = 0; round < 20; round += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}
