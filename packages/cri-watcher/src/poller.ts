import {
  backoffDelay,
  type ClaimedRecord,
  type Clock,
  type Logger,
  type SkippedRecord,
  type SourceHandle,
} from '@zonewright/zone';
import type { ContainerEventWatch, SandboxRuntime } from './cri-client.js';
import type { PodSandboxSummary } from './cri-messages.js';
import { CriError, CriNotFoundError, CriUnimplementedError } from './errors.js';
import { sandboxObjectName, sandboxRecords, type SandboxRecordsResult } from './sandbox-records.js';
import type { SocketWatch, SocketWatchFactory } from './socket-watch.js';

export const DEFAULT_POLL_INTERVAL_MS = 1500;
export const DEFAULT_MAX_BACKOFF_MS = 30_000;

/** What started a poll. */
export type PollTrigger = 'start' | 'interval' | 'retry' | 'event' | 'socket' | 'once';

export interface PollResult {
  readonly trigger: PollTrigger;
  /** Sandboxes the runtime listed (any state). */
  readonly sandboxes: number;
  /** Ready sandboxes. */
  readonly ready: number;
  /** Records handed to the source. */
  readonly records: number;
  /** `PodSandboxStatus` calls made in this poll (0 in the steady state). */
  readonly statusCalls: number;
  /** Whether the set of records changed (and `replaceAll` was called). */
  readonly changed: boolean;
  readonly durationMs: number;
}

/** Hooks for metrics; every method is optional. */
export interface CriWatcherObserver {
  onPoll?(result: PollResult): void;
  onRuntimeError?(error: Error, info: { readonly consecutiveFailures: number }): void;
  /** The runtime answered again after one or more failed polls. */
  onReconnect?(info: { readonly downtimeMs: number; readonly trigger: PollTrigger }): void;
  onSkipped?(skipped: SkippedRecord): void;
}

export interface CriWatcherOptions {
  readonly runtime: SandboxRuntime;
  readonly source: SourceHandle;
  /** Zone origin (normalized cluster domain, e.g. `cluster.local`). */
  readonly clusterDomain: string;
  /** Node addresses for hostNetwork sandboxes (`--node-ip`). */
  readonly nodeIps?: readonly string[];
  readonly clock: Clock;
  readonly logger: Logger;
  /** Time between `ListPodSandbox` calls; default 1500 ms (the shipped DaemonSet value, docs/adr/0010). */
  readonly intervalMs?: number;
  /** Cap of the retry backoff after failures (interval, 2×, 4×, … up to this); default 30 s. */
  readonly maxBackoffMs?: number;
  /** Parallel `PodSandboxStatus` calls for new sandboxes; default 8. */
  readonly statusConcurrency?: number;
  /** Delay of a poll triggered by a runtime event (coalesces bursts); default 50 ms. */
  readonly eventPollDelayMs?: number;
  /** Use `GetContainerEvents` as a hint to poll at once when the runtime has it; default true. */
  readonly useEvents?: boolean;
  /** Socket file to watch; when it reappears the client reconnects and polls at once. */
  readonly socketPath?: string;
  /**
   * After the socket reappears, failed polls are retried every this many ms (instead of the backoff) for
   * `socketRetryWindowMs`: a runtime answers "not initialized yet" for a moment after creating its socket.
   * Defaults 200 ms and 15 s.
   */
  readonly socketRetryMs?: number;
  readonly socketRetryWindowMs?: number;
  /** How to watch the socket (default: none; the CLI passes `chokidarSocketWatch`). */
  readonly watchSocket?: SocketWatchFactory;
  readonly observer?: CriWatcherObserver;
}

function errorOf(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/**
 * Polls a CRI runtime and feeds a reconciler source: `ListPodSandbox` every interval and `PodSandboxStatus`
 * (verbose) only for sandbox ids not seen before, so the steady state is one RPC per interval. On failures the
 * source keeps its last records (only `reportError` is called) and polls are retried with capped backoff.
 */
export class CriWatcher {
  private readonly runtime: SandboxRuntime;
  private readonly source: SourceHandle;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly observer: CriWatcherObserver;
  private readonly intervalMs: number;
  private readonly maxBackoffMs: number;
  private readonly statusConcurrency: number;
  private readonly eventPollDelayMs: number;
  private readonly recordOptions: { clusterDomain: string; nodeIps: readonly string[] };

  private readonly cache = new Map<string, SandboxRecordsResult>();
  private running = false;
  private synced = false;
  private timer: unknown;
  private timerDue = Number.POSITIVE_INFINITY;
  private inFlight: Promise<void> | undefined;
  private pendingTrigger: PollTrigger | undefined;
  private failures = 0;
  private failingSince: number | undefined;
  private lastFingerprint: string | undefined;
  private eventWatch: ContainerEventWatch | undefined;
  private eventsUnsupported = false;
  private socketWatch: SocketWatch | undefined;
  private fastRetryUntil = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: CriWatcherOptions) {
    this.runtime = options.runtime;
    this.source = options.source;
    this.clock = options.clock;
    this.logger = options.logger;
    this.observer = options.observer ?? {};
    this.intervalMs = options.intervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.maxBackoffMs = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
    this.statusConcurrency = options.statusConcurrency ?? 8;
    this.eventPollDelayMs = options.eventPollDelayMs ?? 50;
    for (const [name, value] of [
      ['intervalMs', this.intervalMs],
      ['maxBackoffMs', this.maxBackoffMs],
      ['statusConcurrency', this.statusConcurrency],
    ] as const) {
      if (!Number.isFinite(value) || value <= 0) {
        throw new RangeError(`CriWatcher ${name} must be a positive number, got ${value}`);
      }
    }
    this.recordOptions = { clusterDomain: options.clusterDomain, nodeIps: options.nodeIps ?? [] };
  }

  /** True after the first successful poll was handed to the source. */
  isSynced(): boolean {
    return this.synced;
  }

  /** Consecutive failed polls (0 when the runtime answers). */
  consecutiveFailures(): number {
    return this.failures;
  }

  /** Starts watching the socket (if configured) and polling; the first poll runs at once. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { socketPath, watchSocket } = this.options;
    if (socketPath !== undefined && watchSocket !== undefined) {
      this.socketWatch = await watchSocket(socketPath, () => {
        this.onSocketAppeared();
      });
    }
    this.schedule(0, 'start');
  }

  /** Stops polling and watching; waits for a poll in progress. Does not close the runtime client. */
  async stop(): Promise<void> {
    this.running = false;
    this.cancelTimer();
    this.stopEvents();
    const watch = this.socketWatch;
    this.socketWatch = undefined;
    if (watch !== undefined) await watch.close();
    await this.inFlight;
  }

  /**
   * One poll, handed to the source (`replaceAll`, then `markSynced` the first time). Throws the runtime's
   * error; used by `--once` and by tests.
   */
  async pollOnce(): Promise<PollResult> {
    while (this.inFlight !== undefined) await this.inFlight;
    return this.poll('once');
  }

  private schedule(delayMs: number, trigger: PollTrigger): void {
    if (!this.running) return;
    const due = this.clock.now() + delayMs;
    if (this.timer !== undefined && this.timerDue <= due) return;
    this.cancelTimer();
    this.timerDue = due;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Number.POSITIVE_INFINITY;
      this.runScheduled(trigger);
    }, delayMs);
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
  }

  /** Poll as soon as possible (after the one in progress, if any). */
  private pollSoon(trigger: PollTrigger, delayMs: number): void {
    if (!this.running) return;
    if (this.inFlight !== undefined) {
      this.pendingTrigger ??= trigger;
      return;
    }
    this.schedule(delayMs, trigger);
  }

  private runScheduled(trigger: PollTrigger): void {
    if (!this.running) return;
    if (this.inFlight !== undefined) {
      this.pendingTrigger ??= trigger;
      return;
    }
    const run = async (): Promise<void> => {
      let nextDelay = this.intervalMs;
      let nextTrigger: PollTrigger = 'interval';
      try {
        await this.poll(trigger);
        this.startEvents();
      } catch {
        // interval, 2×, 4×, … up to maxBackoffMs; one poller per runtime, so no jitter (random fixed at 1).
        nextDelay = backoffDelay(this.failures - 1, () => 1, {
          initialMs: this.intervalMs,
          maxMs: this.maxBackoffMs,
        });
        if (this.clock.now() < this.fastRetryUntil) {
          nextDelay = Math.min(nextDelay, this.options.socketRetryMs ?? 200);
        }
        nextTrigger = 'retry';
        // The channel may be stuck in gRPC's own backoff: dial afresh for the retry.
        this.stopEvents();
        this.runtime.reconnect();
      }
      this.inFlight = undefined;
      const pending = this.pendingTrigger;
      this.pendingTrigger = undefined;
      if (pending === 'socket') {
        this.stopEvents();
        this.runtime.reconnect();
      }
      if (pending !== undefined) this.schedule(0, pending);
      else this.schedule(nextDelay, nextTrigger);
    };
    this.inFlight = run();
  }

  private onSocketAppeared(): void {
    if (!this.running) return;
    this.fastRetryUntil = this.clock.now() + (this.options.socketRetryWindowMs ?? 15_000);
    this.logger.info('runtime socket appeared; reconnecting', {
      endpoint: this.runtime.endpoint,
      failing: this.failures > 0,
    });
    if (this.inFlight !== undefined) {
      this.pendingTrigger = 'socket';
      return;
    }
    this.stopEvents();
    this.runtime.reconnect();
    this.cancelTimer();
    this.schedule(0, 'socket');
  }

  private startEvents(): void {
    if (!this.running || this.eventsUnsupported || this.eventWatch !== undefined) return;
    if (this.options.useEvents === false) return;
    const watch = this.runtime.watchContainerEvents(
      () => {
        this.pollSoon('event', this.eventPollDelayMs);
      },
      (error) => {
        if (this.eventWatch === watch) this.eventWatch = undefined;
        if (error instanceof CriUnimplementedError) {
          this.eventsUnsupported = true;
          this.logger.info('runtime does not implement GetContainerEvents; polling only', {
            intervalMs: this.intervalMs,
          });
        } else if (error !== undefined) {
          this.logger.debug('container event stream ended; resubscribing after the next poll', {
            error: error.message,
          });
        }
      },
    );
    this.eventWatch = watch;
  }

  private stopEvents(): void {
    const watch = this.eventWatch;
    this.eventWatch = undefined;
    watch?.cancel();
  }

  private async poll(trigger: PollTrigger): Promise<PollResult> {
    const startedAt = this.clock.now();
    let result: PollResult;
    try {
      result = await this.pollRuntime(trigger, startedAt);
    } catch (caught) {
      const error = errorOf(caught);
      this.failures += 1;
      this.failingSince ??= startedAt;
      const transient = error instanceof CriError ? error.transient : false;
      const log = this.failures === 1 ? 'warn' : 'debug';
      this.logger[log]('CRI poll failed; keeping the last zone', {
        error: error.message,
        transient,
        consecutiveFailures: this.failures,
      });
      this.source.reportError(error);
      this.observer.onRuntimeError?.(error, { consecutiveFailures: this.failures });
      throw error;
    }
    if (this.failures > 0) {
      const downtimeMs = this.clock.now() - (this.failingSince ?? startedAt);
      this.logger.info('runtime answers again', { downtimeMs, failedPolls: this.failures, trigger });
      this.observer.onReconnect?.({ downtimeMs, trigger });
      this.source.reportHealthy();
      this.failures = 0;
      this.failingSince = undefined;
    }
    this.observer.onPoll?.(result);
    return result;
  }

  private async pollRuntime(trigger: PollTrigger, startedAt: number): Promise<PollResult> {
    const list = await this.runtime.listPodSandboxes();
    const listed = new Set(list.map((sandbox) => sandbox.id));
    for (const id of this.cache.keys()) if (!listed.has(id)) this.cache.delete(id);

    const ready = list.filter((sandbox) => sandbox.state === 'ready');
    const unseen = ready.filter((sandbox) => !this.cache.has(sandbox.id));
    await this.fetchStatuses(unseen);

    const entries = new Map<string, readonly ClaimedRecord[]>();
    let records = 0;
    for (const sandbox of ready) {
      const cached = this.cache.get(sandbox.id);
      if (cached === undefined || cached.records.length === 0) continue;
      entries.set(sandbox.id, cached.records);
      records += cached.records.length;
    }
    // Records of one sandbox id never change, so the sorted ids identify the whole set.
    const fingerprint = [...entries.keys()].sort().join(',');
    const changed = fingerprint !== this.lastFingerprint;
    if (changed || !this.synced) {
      this.source.replaceAll(entries, startedAt);
      this.lastFingerprint = fingerprint;
    }
    if (!this.synced) {
      this.synced = true;
      this.source.markSynced();
    }
    return {
      trigger,
      sandboxes: list.length,
      ready: ready.length,
      records,
      statusCalls: unseen.length,
      changed,
      durationMs: this.clock.now() - startedAt,
    };
  }

  private async fetchStatuses(sandboxes: readonly PodSandboxSummary[]): Promise<void> {
    let next = 0;
    let transientError: Error | undefined;
    const worker = async (): Promise<void> => {
      while (transientError === undefined) {
        const sandbox = sandboxes[next];
        next += 1;
        if (sandbox === undefined) return;
        try {
          const details = await this.runtime.podSandboxStatus(sandbox.id, true);
          const result = sandboxRecords(details, this.recordOptions);
          // A sandbox still setting up its network is asked again next time.
          const settled = details.state === 'ready' && (details.networkMode === 'node' || details.ip !== '');
          if (settled) this.cache.set(sandbox.id, result);
          for (const skipped of result.skipped) {
            this.logger.warn('sandbox record skipped', { ...skipped, sandbox: sandbox.id });
            this.observer.onSkipped?.(skipped);
          }
        } catch (caught) {
          if (caught instanceof CriNotFoundError) continue; // removed between list and status
          if (caught instanceof CriError && !caught.transient) {
            this.logger.warn('PodSandboxStatus failed; will retry next poll', {
              sandbox: sandbox.id,
              object: sandboxObjectName(sandbox),
              error: caught.message,
            });
            continue;
          }
          transientError = errorOf(caught);
        }
      }
    };
    const workers = Array.from({ length: Math.min(this.statusConcurrency, sandboxes.length) }, () =>
      worker(),
    );
    await Promise.all(workers);
    if (transientError !== undefined) throw transientError;
  }
}
