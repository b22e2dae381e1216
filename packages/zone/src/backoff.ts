/**
 * Retry delays: capped exponential backoff with "equal jitter" (half of each delay fixed, half random), so that
 * many clients that failed together do not retry together, and no delay is ever longer than the cap.
 */

export interface BackoffOptions {
  /** Longest first delay in ms (the first delay is between half of it and it); default 500. */
  readonly initialMs?: number;
  /** Longest delay in ms (delays stay between half of it and it once reached); default 30 000. */
  readonly maxMs?: number;
  /** Growth per attempt; default 2. */
  readonly factor?: number;
}

/** The delay before retry number `attempt` (0 for the first retry); `random` returns [0, 1). */
export function backoffDelay(attempt: number, random: () => number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 500;
  const max = Math.max(options.maxMs ?? 30_000, 0);
  const factor = options.factor ?? 2;
  const base = Math.min(max, initial * factor ** Math.min(Math.max(attempt, 0), 64));
  return Math.round(base / 2 + random() * (base / 2));
}

/**
 * Backoff state for one retry loop: {@link Backoff.next} gives the next delay and grows it, {@link Backoff.reset}
 * starts over (call it once the peer answered again, so an outage that follows does not inherit the long delays
 * of the one before).
 */
export class Backoff {
  private readonly options: BackoffOptions;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions & { readonly random?: () => number } = {}) {
    this.options = options;
    this.random = options.random ?? Math.random;
  }

  /** Delays handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The longest delay {@link Backoff.next} can return. */
  get maxMs(): number {
    return this.options.maxMs ?? 30_000;
  }

  next(): number {
    return backoffDelay(this.attempt++, this.random, this.options);
  }

  reset(): void {
    this.attempt = 0;
  }
}
