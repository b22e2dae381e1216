import {
  Backoff,
  FileZoneStore,
  Reconciler,
  StalenessLog,
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

/** First and longest wait between attempts to prepare the zones directory of a long-running watcher (jittered). */
export const START_RETRY_MIN_MS = 500;
export const START_RETRY_MAX_MS = 30_000;

function isTransient(error: unknown): boolean {
  return (error as { transient?: unknown } | undefined)?.transient === true;
}

/**
 * Wires a zone watcher the same way for every command: store → reconciler (with metrics) → sources → ops
 * server; stops on SIGINT/SIGTERM (or the abort signal) at any stage, writing whatever is pending before it
 * exits. A zones directory that cannot be prepared fails `--once` at once; a long-running watcher logs it,
 * retries with capped backoff and turns /healthz unhealthy after `unhealthyAfterWriteFailureMs`.
 */
export async function runZoneWatcher(options: ZoneWatcherOptions): Promise<Reconciler> {
  const { config, logger } = options;
  const metrics = options.metrics ?? new ZoneMetrics();
  const store = new FileZoneStore(options.zonesDir);
  const clock = options.clock ?? systemClock;
  const unhealthyAfterMs = options.unhealthyAfterWriteFailureMs ?? DEFAULT_UNHEALTHY_AFTER_WRITE_FAILURE_MS;
  const observer = metrics.observer(config.origin);
  let failOnce: (error: Error) => void = () => undefined;
  const onceFailed = new Promise<never>((_resolve, reject) => {
    failOnce = reject;
  });
  onceFailed.catch(() => undefined); // raced below; never an unhandled rejection
  const reconciler = new Reconciler({
    config,
    store,
    clock,
    logger,
    debounceMs: options.debounceMs,
    maxDelayMs: options.maxDelayMs,
    reverseRanges: options.reverseRanges ?? [],
    serials: options.serials ?? 'clock',
    observer: {
      ...observer,
      onWriteError: (error) => {
        observer.onWriteError?.(error);
        // --once has no one to retry for: the first failed (or refused) write ends the command with its error.
        if (options.once) failOnce(error);
      },
    },
  });
  const sources = options.createSources(reconciler, metrics);
  metrics.trackStaleness(
    () => reconciler.status(),
    () => clock.now(),
  );
  // Logs when the zone falls behind its sources (a source down, writes failing) and when it is current again.
  const staleness = new StalenessLog({ origin: config.origin, logger });
  let stalenessTimer: unknown;
  const checkStaleness = (): void => {
    staleness.update(clock.now(), reconciler.status());
    stalenessTimer = clock.setTimeout(checkStaleness, 1000);
  };
  // Stop requests are honoured from here on, at every stage: starting, listing, writing, backing off.
  let stopping = false;
  const signalHandlers: [NodeJS.Signals, () => void][] = [];
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
      for (const name of ['SIGINT', 'SIGTERM'] as const) {
        const handler = (): void => stop(name);
        signalHandlers.push([name, handler]);
        process.once(name, handler);
      }
    }
  });
  /** Waits for `work` unless a stop comes first; true when it finished. */
  const unlessStopped = async (work: unknown): Promise<boolean> => {
    await Promise.race([work, stopped]);
    return !stopping;
  };
  let startFailure: { sinceMs: number; error: string } | undefined;
  const started: Promise<unknown>[] = [];
  const server = await startOpsServer({
    listen: options.once ? '' : options.listen,
    registry: metrics.registry,
    isReady: () => reconciler.isReady(),
    healthProblem: () =>
      writeFailureProblem(
        startFailure === undefined
          ? reconciler.status()
          : {
              origin: config.origin,
              failingSinceMs: startFailure.sinceMs,
              lastWriteError: startFailure.error,
            },
        clock.now(),
        unhealthyAfterMs,
      ),
    status: () => ({
      ...reconciler.status(),
      ...(startFailure === undefined ? {} : { startError: startFailure.error }),
    }),
    logger,
  });
  if (server !== undefined) options.onListening?.(server);
  try {
    // The zones directory is retried like everything else: capped exponential backoff (0.5 s … 30 s, jittered).
    const startBackoff = new Backoff({ initialMs: START_RETRY_MIN_MS, maxMs: START_RETRY_MAX_MS });
    while (!stopping) {
      try {
        if (!(await unlessStopped(reconciler.start()))) break;
        if (startFailure !== undefined) logger.info(`zone directory ${options.zonesDir} usable again`);
        startFailure = undefined;
        break;
      } catch (error) {
        if (options.once || !isTransient(error)) throw error;
        const message = (error as Error).message;
        startFailure = { sinceMs: startFailure?.sinceMs ?? clock.now(), error: message };
        const delayMs = startBackoff.next();
        logger.error(`${message}; retrying in ${delayMs} ms`);
        let timer: unknown;
        await unlessStopped(new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, delayMs))));
        clock.clearTimeout(timer);
      }
    }
    if (!stopping) {
      logger.info(`${options.command}: zone ${config.origin} in ${store.pathOf(config.origin)}`, {
        ttl: config.ttl,
        nameServer: config.nameServer,
        debounceMs: options.debounceMs,
        maxDelayMs: options.maxDelayMs,
        reverseZones: (options.reverseRanges ?? []).map((range) => `${range.cidr} ${range.origin}`),
      });
    }
    for (const source of sources) {
      if (stopping) break;
      const starting = Promise.resolve(source.start());
      started.push(starting);
      await unlessStopped(starting);
    }
    if (!stopping) {
      if (options.once) await Promise.race([reconciler.whenReady(), stopped, onceFailed]);
      else {
        checkStaleness();
        await stopped;
      }
    }
  } finally {
    if (stalenessTimer !== undefined) clock.clearTimeout(stalenessTimer);
    for (const [name, handler] of signalHandlers) process.removeListener(name, handler);
    // A source stopped while its start() is still running could be left watching: let start() finish first.
    await Promise.allSettled(started);
    for (const source of [...sources].reverse()) await source.stop();
    await reconciler.stop();
    await server?.close();
  }
  return reconciler;
}
