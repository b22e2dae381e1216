import {
  FileZoneStore,
  Reconciler,
  systemClock,
  type Clock,
  type Logger,
  type ReconcilerStatus,
  type ReverseRange,
  type ZoneConfig,
} from '@zonewright/zone';
import { ZoneMetrics } from './metrics.js';
import { startOpsServer, type OpsServer } from './ops-server.js';

/** A watcher's source as the runtime drives it: started after the reconciler, stopped before it. */
export interface RunnableSource {
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

export interface ZoneWatcherOptions {
  /** The command, for logs: `monitor`, `cri-watch`. */
  readonly command: string;
  readonly config: ZoneConfig;
  /** Reverse zones (`--reverse-zone`) written beside the zone, one per range. */
  readonly reverseRanges?: readonly ReverseRange[];
  /** Serial rule (see ReconcilerOptions.serials); default `clock`. */
  readonly serials?: 'clock' | 'source-version';
  readonly zonesDir: string;
  readonly debounceMs: number;
  readonly maxDelayMs: number;
  /** `host:port` for /healthz, /readyz, /metrics; '' turns the server off. */
  readonly listen: string;
  readonly logger: Logger;
  readonly metrics?: ZoneMetrics;
  readonly clock?: Clock;
  /**
   * /healthz answers 503 once zone writes have been failing without a break for longer than this (default
   * 60 000 ms), and 200 again after the next successful write.
   */
  readonly unhealthyAfterWriteFailureMs?: number;
  /** Registers each source's handle on the reconciler and returns the sources to run. */
  readonly createSources: (reconciler: Reconciler, metrics: ZoneMetrics) => readonly RunnableSource[];
  /** Write the zone once every source is synced, then stop (for `--once` and `render`). */
  readonly once?: boolean;
  /** Ends the run (tests); SIGINT and SIGTERM do the same in a process. */
  readonly signal?: AbortSignal;
  /** Called once the ops server listens (tests read the port). */
  readonly onListening?: (server: OpsServer) => void;
}

export const DEFAULT_UNHEALTHY_AFTER_WRITE_FAILURE_MS = 60_000;

/**
 * Why a watcher is unhealthy, or undefined: its zone writes have been failing without a break for longer than
 * `afterMs` (a restart may get it going again: a remounted volume, a fresh process).
 */
export function writeFailureProblem(
  status: Pick<ReconcilerStatus, 'origin' | 'failingSinceMs' | 'lastWriteError'>,
  nowMs: number,
  afterMs: number,
): string | undefined {
  const since = status.failingSinceMs;
  if (since === undefined || nowMs - since <= afterMs) return undefined;
  return (
    `writing zone ${status.origin} has failed for ${Math.floor((nowMs - since) / 1000)} s ` +
    `(since ${new Date(since).toISOString()}): ${status.lastWriteError ?? 'unknown error'}`
  );
}

/**
 * Wires a zone watcher the same way for every command: store → reconciler (with metrics) → sources → ops
 * server; stops on SIGINT/SIGTERM (or the abort signal), writing whatever is pending before it exits.
 */
export async function runZoneWatcher(options: ZoneWatcherOptions): Promise<Reconciler> {
  const { config, logger } = options;
  const metrics = options.metrics ?? new ZoneMetrics();
  const store = new FileZoneStore(options.zonesDir);
  const clock = options.clock ?? systemClock;
  const unhealthyAfterMs = options.unhealthyAfterWriteFailureMs ?? DEFAULT_UNHEALTHY_AFTER_WRITE_FAILURE_MS;
  const reconciler = new Reconciler({
    config,
    store,
    clock,
    logger,
    debounceMs: options.debounceMs,
    maxDelayMs: options.maxDelayMs,
    observer: metrics.observer(config.origin),
    reverseRanges: options.reverseRanges ?? [],
    serials: options.serials ?? 'clock',
  });
  const sources = options.createSources(reconciler, metrics);
  const server = await startOpsServer({
    listen: options.once ? '' : options.listen,
    registry: metrics.registry,
    isReady: () => reconciler.isReady(),
    healthProblem: () => writeFailureProblem(reconciler.status(), clock.now(), unhealthyAfterMs),
    status: () => reconciler.status(),
    logger,
  });
  if (server !== undefined) options.onListening?.(server);
  let stopping = false;
  const stopped = new Promise<void>((resolve) => {
    const stop = (why: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info(`stopping (${why})`);
      resolve();
    };
    if (options.signal?.aborted) stop('aborted');
    options.signal?.addEventListener('abort', () => stop('aborted'), { once: true });
    if (!options.once) {
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    }
  });
  try {
    await reconciler.start();
    logger.info(`${options.command}: zone ${config.origin} in ${store.pathOf(config.origin)}`, {
      ttl: config.ttl,
      nameServer: config.nameServer,
      debounceMs: options.debounceMs,
      maxDelayMs: options.maxDelayMs,
      reverseZones: (options.reverseRanges ?? []).map((range) => `${range.cidr} ${range.origin}`),
    });
    for (const source of sources) await source.start();
    if (options.once) {
      await Promise.race([reconciler.whenReady(), stopped]);
    } else {
      await stopped;
    }
  } finally {
    for (const source of [...sources].reverse()) await source.stop();
    await reconciler.stop();
    await server?.close();
  }
  return reconciler;
}
