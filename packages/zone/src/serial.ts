import { SerialExhaustedError } from './errors.js';

export const MAX_SERIAL = 0xffffffff;

/**
 * The serial rule: `max(previous + 1, unix seconds)`, never 0.
 *
 * - Strictly higher than any serial written before as long as the previous one is known (read back from
 *   the zone file at start).
 * - When the previous zone is gone (a new pod with an empty `/zones` emptyDir), the clock still gives a
 *   serial above every earlier one, because earlier serials were at most "their write time" plus the number
 *   of writes made faster than one per second — which the reconciler's coalescing keeps near zero.
 * - Serial arithmetic (RFC 1982) is deliberately not used: CoreDNS reloads on any change, and a plain
 *   increasing number keeps `inspect` able to show it as a time. 0xffffffff is reached in 2106.
 */
export function nextSerial(previous: number | undefined, nowMs: number): number {
  const nowSeconds = Math.floor(nowMs / 1000);
  const candidate = Math.max(previous === undefined ? 0 : previous + 1, nowSeconds, 1);
  if (candidate > MAX_SERIAL) {
    throw new SerialExhaustedError(
      `the next serial (${candidate}) does not fit in 32 bits; previous serial ${previous ?? 'none'}`,
    );
  }
  return candidate;
}

const EARLIEST_TIME_SERIAL = Date.UTC(2000, 0, 1) / 1000;

/** The time a serial stands for when it looks like Unix seconds (2000 or later and not in the future + 1 day). */
export function serialToDate(serial: number, nowMs: number): Date | undefined {
  if (serial >= EARLIEST_TIME_SERIAL && serial * 1000 <= nowMs + 86_400_000) return new Date(serial * 1000);
  return undefined;
}
