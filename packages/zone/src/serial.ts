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

/**
 * Where serials derived from a source version start (see ADR 0012): above every clock serial written before
 * 2033, so a zone switched from the clock rule moves up, not down.
 */
export const VERSION_SERIAL_BASE = 2_000_000_000;

const SERIAL_SPACE = 2 ** 32;
const HALF_SERIAL_SPACE = 2 ** 31;

/** RFC 1982 serial number arithmetic: is `a` greater than `b`? (What BIND, Knot, NSD and CoreDNS compare.) */
export function serialGreater(a: number, b: number): boolean {
  return (a < b && b - a > HALF_SERIAL_SPACE) || (a > b && a - b < HALF_SERIAL_SPACE);
}

/** A source version as a serial number, or undefined when the text is not a decimal integer. */
export function parseSourceVersion(text: string): bigint | undefined {
  return /^\d{1,30}$/.test(text) ? BigInt(text) : undefined;
}

/**
 * The serial of content built from a source at `version` (for Kubernetes: the resourceVersion, an etcd
 * revision, the same for every replica watching the same cluster): `(VERSION_SERIAL_BASE + version) mod 2^32`,
 * never 0. Replicas at the same version agree; newer content has a greater serial in RFC 1982 arithmetic as
 * long as fewer than 2^31 revisions lie between two writes. When that would not be greater than the previous
 * serial (etcd restored from a backup, a zone written by the clock rule far in the future), the serial is
 * `previous + 1` so it never goes backwards, and `agreed` is false: replicas may differ until the version
 * catches up.
 */
export function versionSerial(
  previous: number | undefined,
  version: bigint,
): { readonly serial: number; readonly agreed: boolean } {
  let serial = Number((BigInt(VERSION_SERIAL_BASE) + version) % BigInt(SERIAL_SPACE));
  if (serial === 0) serial = 1;
  if (previous === undefined || serialGreater(serial, previous)) return { serial, agreed: true };
  // Same content at the same version was handled by the caller (unchanged); anything else moves forward.
  const next = (previous + 1) % SERIAL_SPACE;
  return { serial: next === 0 ? 1 : next, agreed: false };
}
