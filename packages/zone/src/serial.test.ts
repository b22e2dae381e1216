import { describe, expect, it } from '@jest/globals';
import { SerialExhaustedError } from './errors.js';
import { nextSerial, serialToDate } from './serial.js';

const now = Date.UTC(2026, 10, 25, 12, 0, 0);
const nowSeconds = now / 1000;

describe('nextSerial', () => {
  it('uses Unix seconds for a new zone', () => {
    expect(nextSerial(undefined, now)).toBe(nowSeconds);
  });
  it('is strictly higher than the previous serial even within one second', () => {
    const first = nextSerial(undefined, now);
    const second = nextSerial(first, now);
    const third = nextSerial(second, now + 10);
    expect(second).toBe(first + 1);
    expect(third).toBe(first + 2);
  });
  it('jumps to the clock when the clock is ahead', () => {
    expect(nextSerial(5, now)).toBe(nowSeconds);
  });
  it('never goes below a previous serial written in the future (e.g. YYYYMMDDnn)', () => {
    expect(nextSerial(2026112501, now)).toBe(2026112502);
  });
  it('is never 0, even with a clock at the epoch', () => {
    expect(nextSerial(undefined, 0)).toBe(1);
    expect(nextSerial(0, 0)).toBe(1);
  });
  it('refuses to wrap past 32 bits', () => {
    expect(() => nextSerial(0xffffffff, now)).toThrow(SerialExhaustedError);
  });
});

describe('serialToDate', () => {
  it('shows time-based serials as dates and others not', () => {
    expect(serialToDate(nowSeconds, now)?.toISOString()).toBe('2026-11-25T12:00:00.000Z');
    expect(serialToDate(2026112501, now)).toBeUndefined();
    expect(serialToDate(42, now)).toBeUndefined();
  });
});
