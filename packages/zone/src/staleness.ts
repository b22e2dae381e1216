import type { Logger } from './logger.js';
import type { ReconcilerStatus } from './reconciler.js';

/** A zone behind its sources for less than this is normal coalescing (debounce, max-delay): not logged. */
export const DEFAULT_STALENESS_LOG_AFTER_MS = 5000;

/** Seconds the zone has been behind at `nowMs` (0 when current): the value of `zonewright_zone_behind_seconds`. */
export function behindSeconds(behindSinceMs: number | undefined, nowMs: number): number {
  return behindSinceMs === undefined ? 0 : Math.max(0, nowMs - behindSinceMs) / 1000;
}

/**
 * Turns a reconciler's staleness ({@link ReconcilerStatus.behindSinceMs}) into two log lines: one when the zone has
 * been behind its sources for `logAfterMs` (naming the sources that fail), one when it is current again, with how
 * long it was behind. Call {@link StalenessLog.update} periodically (the CLI: every second).
 */
export class StalenessLog {
  private readonly origin: string;
  private readonly logger: Logger;
  private readonly logAfterMs: number;
  /** Start of the current period of being behind (earliest `behindSinceMs` seen in it). */
  private periodStartMs: number | undefined;
  private announced = false;

  constructor(options: { origin: string; logger: Logger; logAfterMs?: number }) {
    this.origin = options.origin;
    this.logger = options.logger;
    this.logAfterMs = options.logAfterMs ?? DEFAULT_STALENESS_LOG_AFTER_MS;
  }

  update(
    nowMs: number,
    status: Pick<ReconcilerStatus, 'behindSinceMs' | 'sources' | 'lastWriteError' | 'lastWriteMs'>,
  ): void {
    const since = status.behindSinceMs;
    if (since === undefined) {
      if (this.announced && this.periodStartMs !== undefined) {
        // Current since the write that caught up, or (nothing to write) since some time before this check.
        const wrote = status.lastWriteMs;
        const currentAt = wrote !== undefined && wrote >= this.periodStartMs ? Math.min(wrote, nowMs) : nowMs;
        const behindMs = currentAt - this.periodStartMs;
        this.logger.info(
          `zone ${this.origin} is current again; it was behind its sources for ${(behindMs / 1000).toFixed(1)} s`,
          { behindMs },
        );
      }
      this.periodStartMs = undefined;
      this.announced = false;
      return;
    }
    this.periodStartMs = Math.min(this.periodStartMs ?? since, since);
    if (this.announced || nowMs - this.periodStartMs < this.logAfterMs) return;
    this.announced = true;
    const failing = status.sources.filter((source) => source.failingSinceMs !== undefined);
    const why =
      failing.length > 0
        ? failing
            .map((source) => `source ${source.name} failing: ${source.lastError ?? 'unknown error'}`)
            .join('; ')
        : status.lastWriteError !== undefined
          ? `zone writes failing: ${status.lastWriteError}`
          : 'changes not written yet';
    this.logger.warn(
      `zone ${this.origin} is behind its sources since ${new Date(this.periodStartMs).toISOString()} ` +
        `(${((nowMs - this.periodStartMs) / 1000).toFixed(1)} s): ${why}`,
      { behindMs: nowMs - this.periodStartMs },
    );
  }
}
