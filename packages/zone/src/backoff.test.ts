import { describe, expect, it } from '@jest/globals';
import { Backoff, backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap, with half of it random', () => {
    const low = (attempt: number): number =>
      backoffDelay(attempt, () => 0, { initialMs: 500, maxMs: 30_000 });
    const high = (attempt: number): number =>
      backoffDelay(attempt, () => 0.999999, { initialMs: 500, maxMs: 30_000 });
    expect([0, 1, 2, 3, 4, 5, 6, 7, 50].map(low)).toEqual([
      250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000,
    ]);
    expect([0, 1, 2, 6, 50].map(high)).toEqual([500, 1000, 2000, 30000, 30000]);
  });

  it('uses 500 ms, 30 s and a factor of 2 by default', () => {
    expect(backoffDelay(0, () => 0.5)).toBe(375);
    expect(backoffDelay(100, () => 0.5)).toBe(22500);
    expect(backoffDelay(1, () => 0, { factor: 3 })).toBe(750);
  });

  it('never exceeds the cap, also for huge attempt numbers', () => {
    for (const attempt of [0, 1, 5, 1000, Number.MAX_SAFE_INTEGER]) {
      expect(backoffDelay(attempt, () => 0.999999, { initialMs: 250, maxMs: 1000 })).toBeLessThanOrEqual(
        1000,
      );
    }
  });
});

describe('Backoff', () => {
  it('grows with every next() and starts over after reset()', () => {
    const backoff = new Backoff({ initialMs: 200, maxMs: 1000, random: () => 0.5 });
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([150, 300, 600, 750]);
    expect(backoff.attempts).toBe(4);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(150);
    expect(backoff.maxMs).toBe(1000);
  });

  it('draws the jitter from the injected random', () => {
    const values = [0, 0.999999];
    const backoff = new Backoff({ initialMs: 1000, maxMs: 1000, random: () => values.shift() ?? 0 });
    expect([backoff.next(), backoff.next()]).toEqual([500, 1000]);
  });
});
