import { describeConflict, type NameConflict } from './assemble.js';
import { backoffDelay } from './backoff.js';
import type { Clock } from './clock.js';
import { reservedNames } from './config.js';
import { InvalidZoneError, ZoneError } from './errors.js';
import type { Logger } from './logger.js';
import type { AddressRecord, ClaimedRecord, ZoneConfig } from './model.js';
import { planZone, previousZoneFromText } from './plan.js';
import type { RenderedZone } from './render.js';
import { ReverseIndex } from './reverse-index.js';
import {
  planRenderedReverseZone,
  reverseZoneConfig,
  reverseZoneParts,
  type ReverseRange,
  type ReverseZoneConfig,
} from './reverse.js';
import { parseSourceVersion } from './serial.js';
import type { SkippedRecord } from './skip.js';
import type { ZoneStore } from './store.js';

/** How a source feeds the reconciler. Keys identify source objects (a VMI's uid, a sandbox id). */
export interface SourceHandle {
  /** Sets the records of one object (an empty list keeps the object but gives it no records). */
  upsert(key: string, records: readonly ClaimedRecord[], eventTimeMs?: number): void;
  remove(key: string, eventTimeMs?: number): void;
  /** Replaces every object of this source (after a list or relist). */
  replaceAll(entries: ReadonlyMap<string, readonly ClaimedRecord[]>, eventTimeMs?: number): void;
  /** The initial state is complete. No zone is written before every registered source said so. */
  markSynced(): void;
  /** The source is in trouble; its last state stays in the zone. */
  reportError(error: Error): void;
  /** The source works again after {@link reportError}. */
  reportHealthy(): void;
  /**
   * The version of the source's state after the changes just delivered (Kubernetes: the resourceVersion of
   * the list or of the last watch event, per watched scope). Used only with `serials: 'source-version'`.
   */
  reportVersion?(version: string, scope?: string): void;
}

export interface WriteInfo {
  readonly origin: string;
  readonly serial: number;
  readonly records: number;
  readonly added: number;
  readonly removed: number;
  readonly durationMs: number;
  /** For every source event this write reflects: time from the event to the rename, in ms. */
  readonly eventDelaysMs: readonly number[];
}

/** Hooks the CLI turns into metrics. All optional. */
export interface ReconcilerObserver {
  onWrite?(info: WriteInfo): void;
  /** A flush found nothing to change but the serial (or the file on disk was already identical). */
  onUnchanged?(origin: string): void;
  onConflict?(conflict: NameConflict): void;
  onRejected?(skipped: SkippedRecord): void;
  onWriteError?(error: Error): void;
  onSourceError?(source: string, error: Error): void;
  /** After each flush with reverse zones: distinct addresses in no reverse range (not published). */
  onReverseOutside?(origin: string, addresses: number): void;
}

export interface ReconcilerOptions {
  readonly config: ZoneConfig;
  readonly store: ZoneStore & { prepare?(): Promise<unknown> };
  readonly clock: Clock;
  readonly logger: Logger;
  /** Quiet time after the last event before writing (default 200 ms). */
  readonly debounceMs?: number;
  /** Longest time an event waits for its write while events keep coming (default 1000 ms). */
  readonly maxDelayMs?: number;
  /** Backoff after a failed write: first and longest delay (defaults 500 ms and 30 s). */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** Parse every zone back and refuse to write it when it has a problem (default true). */
  readonly validate?: boolean;
  readonly observer?: ReconcilerObserver;
  /**
   * Reverse zones written beside the forward zone, one per range, with one PTR per address (see reverse.ts).
   * They go through the same flush: same store, serial rule and validation.
   */
  readonly reverseRanges?: readonly ReverseRange[];
  /**
   * How serials are chosen: `clock` (default) is `max(previous + 1, unix seconds)`; `source-version` derives
   * them from the versions the sources report (versionSerial), so replicas watching the same source write the
   * same serial for the same content (ADR 0012). Until every source has reported a version, the clock rule.
   */
  readonly serials?: 'clock' | 'source-version';
}

export interface SourceStatus {
  readonly name: string;
  readonly synced: boolean;
  readonly objects: number;
  readonly lastError: string | undefined;
  /** Since when the source has been failing (its first `reportError` after it was last healthy), ms. */
  readonly failingSinceMs: number | undefined;
}

export interface ReconcilerStatus {
  readonly origin: string;
  readonly ready: boolean;
  readonly serial: number | undefined;
  readonly records: number | undefined;
  readonly lastWriteMs: number | undefined;
  readonly lastWriteError: string | undefined;
  /**
   * When the zone writes started failing without a success since (ms since the epoch): the time of the first
   * failed or refused write after the last good one. Undefined while writes succeed, and again once a write
   * succeeds or a flush finds the zone on disk already up to date.
   */
  readonly failingSinceMs: number | undefined;
  /** See {@link Reconciler.behindSinceMs}. */
  readonly behindSinceMs: number | undefined;
  readonly sources: readonly SourceStatus[];
  /** The reverse zones written beside the forward zone (empty without --reverse-zone). */
  readonly reverseZones: readonly {
    readonly origin: string;
    readonly serial: number | undefined;
    readonly records: number | undefined;
  }[];
}

/** One reverse zone's state: what is on disk (or was found there at start) and its serial. */
interface ReverseZoneState {
  readonly range: ReverseRange;
  readonly config: ReverseZoneConfig;
  serial: number | undefined;
  /** The text last written, or found on disk at start, split at the serial. */
  rendered: RenderedZone | undefined;
  /** PTRs of the zone on disk; undefined until a flush wrote it or found it identical. */
  records: number | undefined;
}

/** What became of one reverse zone's write: written (with what the report says), or an error. */
interface ReverseOutcome {
  readonly zone?: ReverseZoneState;
  readonly written?: {
    readonly serial: number;
    readonly records: number;
    readonly added: number;
    readonly removed: number;
    readonly durationMs: number;
  };
  readonly error?: unknown;
}

interface SourceState {
  readonly name: string;
  readonly entries: Map<string, readonly ClaimedRecord[]>;
  synced: boolean;
  lastError: Error | undefined;
  failingSinceMs: number | undefined;
  /** The last version reported per scope (reportVersion). */
  readonly versions: Map<string, bigint>;
}

const MAX_TRACKED_EVENTS = 100_000;

/**
 * Owns one zone file. Sources feed it objects' records; it coalesces bursts (debounce with a maximum delay),
 * assembles and renders the zone, skips writes that would change nothing but the serial, picks the serial,
 * validates the text and writes it atomically through the store. A failed write keeps the old file and is
 * retried with backoff; a failing source keeps its last state.
 */
export class Reconciler {
  private readonly options: ReconcilerOptions;
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly reserved: ReadonlySet<string>;
  private readonly sources: SourceState[] = [];
  /**
   * The conflicts and rejected records the last flush found (ids). Each is logged and reported once while it
   * lasts; every flush replaces these sets, so one that went away is forgotten (and reported again if it comes
   * back) and they never hold more than the current zone's problems.
   */
  private knownConflicts: ReadonlySet<string> = new Set();
  private knownRejections: ReadonlySet<string> = new Set();
  private started = false;
  private stopped = false;
  private dirty = false;
  private firstPendingAt: number | undefined;
  private pendingEvents: number[] = [];
  private timer: unknown;
  private timerDue: number | undefined;
  private writing: Promise<void> | undefined;
  private retryDelayMs: number | undefined;
  /** Failed writes in a row (the next retry waits backoffDelay of it). */
  private writeFailures = 0;
  private serial: number | undefined;
  /** The zone found on disk at start, until the first flush compared it. */
  private diskParts: RenderedZone | undefined;
  /**
   * The records of the zone on disk, sorted and de-duplicated (references only: 8 bytes a record). The next
   * flush compares against them, which tells both "unchanged" and the +added/−removed counts.
   */
  private lastRecords: readonly AddressRecord[] | undefined;
  private lastWriteMs: number | undefined;
  private lastFlushEndMs: number | undefined;
  private lastWriteError: Error | undefined;
  private failingSinceMs: number | undefined;
  private ready = false;
  /**
   * The start of an outage of a source that reported healthy again, until the zone holds what it delivered
   * since (cleared by {@link Reconciler.behindSinceMs} once nothing is pending or being written).
   */
  private catchingUpSinceMs: number | undefined;
  private readonly readyWaiters: (() => void)[] = [];
  private readonly reverse: ReverseZoneState[];
  /** The reverse zones' PTRs, updated from the forward records of each flush (see reverse-index.ts). */
  private readonly reverseIndex: ReverseIndex;

  constructor(options: ReconcilerOptions) {
    this.options = options;
    this.debounceMs = options.debounceMs ?? 200;
    this.maxDelayMs = Math.max(options.maxDelayMs ?? 1000, this.debounceMs);
    this.reserved = reservedNames(options.config);
    this.reverse = (options.reverseRanges ?? []).map((range) => ({
      range,
      config: reverseZoneConfig(range, options.config),
      serial: undefined,
      rendered: undefined,
      records: undefined,
    }));
    this.reverseIndex = new ReverseIndex(options.reverseRanges ?? [], options.config.origin);
  }

  get origin(): string {
    return this.options.config.origin;
  }

  registerSource(name: string): SourceHandle {
    if (this.sources.some((source) => source.name === name)) {
      throw new ZoneError(`a source named ${name} is already registered`);
    }
    const state: SourceState = {
      name,
      entries: new Map(),
      synced: false,
      lastError: undefined,
      failingSinceMs: undefined,
      versions: new Map(),
    };
    this.sources.push(state);
    return {
      upsert: (key, records, eventTimeMs) => {
        state.entries.set(key, records);
        this.changed(eventTimeMs);
      },
      remove: (key, eventTimeMs) => {
        if (state.entries.delete(key)) this.changed(eventTimeMs);
      },
      replaceAll: (entries, eventTimeMs) => {
        state.entries.clear();
        for (const [key, records] of entries) state.entries.set(key, records);
        this.changed(eventTimeMs);
      },
      markSynced: () => {
        if (state.synced) return;
        state.synced = true;
        this.options.logger.debug(`source ${name} delivered its initial state`, {
          objects: state.entries.size,
        });
        this.dirty = true;
        this.schedule(true);
      },
      reportError: (error) => {
        if (state.lastError === undefined) {
          this.options.logger.warn(`source ${name} failed; keeping its last state in zone ${this.origin}`, {
            error: error.message,
          });
        }
        state.lastError = error;
        state.failingSinceMs ??= this.options.clock.now();
        this.options.observer?.onSourceError?.(name, error);
      },
      reportVersion: (version, scope = '') => {
        const parsed = parseSourceVersion(version);
        if (parsed === undefined) {
          this.options.logger.warn(
            `source ${name} reported version ${JSON.stringify(version)}, not a number`,
          );
          return;
        }
        state.versions.set(scope, parsed);
      },
      reportHealthy: () => {
        if (state.lastError !== undefined) this.options.logger.info(`source ${name} recovered`);
        if (state.failingSinceMs !== undefined && (this.dirty || this.writing !== undefined)) {
          this.catchingUpSinceMs = Math.min(this.catchingUpSinceMs ?? Infinity, state.failingSinceMs);
        }
        state.lastError = undefined;
        state.failingSinceMs = undefined;
      },
    };
  }

  /** Reads the current zone (for its serial and content) and starts writing once every source is synced. */
  async start(): Promise<void> {
    if (this.started) return;
    const { store, config, logger } = this.options;
    if (store.prepare !== undefined) await store.prepare();
    const existing = await store.read(config.origin);
    if (existing !== undefined) {
      const previous = previousZoneFromText(existing, config.origin);
      this.diskParts = previous.onDisk;
      this.serial = previous.serial;
      logger.info(`found zone ${config.origin} with serial ${this.serial ?? 'unknown'}`);
    }
    for (const zone of this.reverse) {
      const text = await store.read(zone.config.origin);
      if (text === undefined) continue;
      const found = previousZoneFromText(text, zone.config.origin);
      zone.rendered = found.onDisk;
      zone.serial = found.serial;
      logger.info(`found zone ${zone.config.origin} with serial ${zone.serial ?? 'unknown'}`);
    }
    this.started = true;
    this.schedule(true);
  }

  /** Stops timers, writes what is pending (when every source is synced) and waits for the write. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.clearTimer();
    if (this.writing !== undefined) await this.writing;
    if (this.started && this.dirty && this.allSynced()) await this.flush();
    this.stopped = true;
    this.clearTimer();
  }

  isReady(): boolean {
    return this.ready;
  }

  /** Resolves once the first complete zone is on disk (written, or found identical). */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  status(): ReconcilerStatus {
    return {
      origin: this.origin,
      ready: this.ready,
      serial: this.serial,
      records: this.lastRecords?.length,
      lastWriteMs: this.lastWriteMs,
      lastWriteError: this.lastWriteError?.message,
      failingSinceMs: this.failingSinceMs,
      behindSinceMs: this.behindSinceMs(),
      sources: this.sources.map((source) => ({
        name: source.name,
        synced: source.synced,
        objects: source.entries.size,
        lastError: source.lastError?.message,
        failingSinceMs: source.failingSinceMs,
      })),
      reverseZones: this.reverse.map((zone) => ({
        origin: zone.config.origin,
        serial: zone.serial,
        records: zone.records,
      })),
    };
  }

  /**
   * Since when the zone on disk has been behind its sources (ms since the epoch), or undefined when it is current:
   * the earliest of the oldest change not written yet, the start of a source's outage (while it fails, and after
   * it recovered until what it delivered is written), and the first of a run of failed writes.
   */
  behindSinceMs(): number | undefined {
    let since = Infinity;
    const pending = this.dirty || this.writing !== undefined;
    if (!pending) this.catchingUpSinceMs = undefined;
    for (const source of this.sources) since = Math.min(since, source.failingSinceMs ?? Infinity);
    since = Math.min(since, this.failingSinceMs ?? Infinity, this.catchingUpSinceMs ?? Infinity);
    if (this.dirty) {
      since = Math.min(since, this.firstPendingAt ?? Infinity);
      for (const eventTime of this.pendingEvents) since = Math.min(since, eventTime);
    }
    return since === Infinity ? undefined : since;
  }

  /** Resolves when no write is in progress (a write started by a timer may still be on disk I/O). */
  async idle(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  /** Writes now if anything is pending (for `--once` and tests). */
  async flushNow(): Promise<void> {
    this.clearTimer();
    if (this.writing !== undefined) await this.writing;
    if (this.dirty && this.allSynced()) await this.flush();
  }

  private allSynced(): boolean {
    return this.sources.every((source) => source.synced);
  }

  private changed(eventTimeMs: number | undefined): void {
    this.dirty = true;
    const now = this.options.clock.now();
    // Leading edge: the first change after a quiet period (nothing pending, no write for a debounce interval)
    // is written at once; changes that follow it are coalesced by debounce and max-delay as usual.
    const quiet =
      this.ready &&
      this.firstPendingAt === undefined &&
      this.writing === undefined &&
      (this.lastFlushEndMs === undefined || now - this.lastFlushEndMs >= this.debounceMs);
    // Start the max-delay clock now, even while a write is in progress (schedule() returns early then), so
    // an event never waits longer than max-delay plus the duration of one write.
    this.firstPendingAt ??= now;
    if (eventTimeMs !== undefined && this.pendingEvents.length < MAX_TRACKED_EVENTS)
      this.pendingEvents.push(eventTimeMs);
    this.schedule(false, quiet);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = undefined;
  }

  private schedule(immediate: boolean, leading = false): void {
    if (!this.started || this.stopped || !this.dirty || !this.allSynced() || this.writing !== undefined)
      return;
    const { clock } = this.options;
    const now = clock.now();
    this.firstPendingAt ??= now;
    let due =
      (immediate && !this.ready) || leading
        ? now
        : Math.min(now + this.debounceMs, this.firstPendingAt + this.maxDelayMs);
    if (this.retryDelayMs !== undefined) due = Math.max(due, (this.lastWriteMs ?? now) + this.retryDelayMs);
    if (this.timer !== undefined && this.timerDue === due) return;
    this.clearTimer();
    this.timerDue = due;
    this.timer = clock.setTimeout(
      () => {
        this.timer = undefined;
        this.timerDue = undefined;
        void this.flush();
      },
      Math.max(0, due - now),
    );
  }

  private flush(): Promise<void> {
    if (this.writing !== undefined) return this.writing;
    this.writing = this.write().finally(() => {
      this.writing = undefined;
      this.lastFlushEndMs = this.options.clock.now();
      this.schedule(false);
    });
    return this.writing;
  }

  private async write(): Promise<void> {
    const { config, store, clock, logger, observer } = this.options;
    if (!this.dirty) return;
    this.dirty = false;
    this.firstPendingAt = undefined;
    const events = this.pendingEvents;
    this.pendingEvents = [];
    const started = clock.now();
    try {
      const plan = planZone(
        config,
        this.allEntries(),
        { serial: this.serial, records: this.lastRecords, onDisk: this.diskParts },
        {
          nowMs: started,
          validate: this.options.validate,
          reserved: this.reserved,
          sourceVersion: this.sourceVersion(),
        },
      );
      this.reportAssembly(plan.conflicts, plan.rejected);
      if (plan.status === 'unchanged') {
        this.unchanged(plan.records);
        this.reportReverse(await this.writeReverse(plan.records));
        return;
      }
      if (plan.status === 'refused') throw plan.error;
      const { serial, diff, records } = plan;
      // The forward zone's write starts first. Reverse zones that follow changes (a few ms of planning) are
      // planned meanwhile and written at the same time, so the fsyncs overlap; reverse zones built from
      // nothing (the first flush: tens of ms at 10,000 VMIs) are planned only once the forward zone is
      // renamed, so lookups by name never wait for them. Either way they are written in this flush, also when
      // the forward write failed (they are independent files). Neither promise rejects.
      const forwardWrite = store.write(config.origin, plan.text).then(
        () => undefined,
        (error: unknown) => ({ error }),
      );
      const overlapping = this.reverseIndex.fullBuild ? undefined : this.writeReverse(records);
      const forwardFailure = await forwardWrite;
      if (forwardFailure === undefined) {
        const finished = clock.now();
        this.serial = serial;
        this.diskParts = undefined;
        this.lastRecords = records;
        this.lastWriteMs = finished;
        this.lastWriteError = undefined;
        this.failingSinceMs = undefined;
        this.retryDelayMs = undefined;
        this.writeFailures = 0;
        observer?.onWrite?.({
          origin: config.origin,
          serial,
          records: records.length,
          added: diff.added,
          removed: diff.removed,
          durationMs: finished - started,
          eventDelaysMs: events.map((eventTime) => Math.max(0, finished - eventTime)),
        });
        logger.info(
          `wrote zone ${config.origin} serial ${serial}: ${records.length} records, +${diff.added} \u2212${diff.removed}`,
          { durationMs: finished - started },
        );
      }
      const reverseOutcomes = await (overlapping ?? this.writeReverse(records));
      if (forwardFailure !== undefined) {
        this.reportReverse(reverseOutcomes, false);
        throw forwardFailure.error;
      }
      this.reportReverse(reverseOutcomes);
      this.markReady();
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      this.lastWriteError = failure;
      this.lastWriteMs = clock.now();
      this.failingSinceMs ??= this.lastWriteMs;
      observer?.onWriteError?.(failure);
      if (failure instanceof InvalidZoneError) {
        logger.error(`refusing to write zone ${config.origin}; the previous file stays`, {
          error: failure.message,
        });
        return;
      }
      // One writer per file: nobody to de-synchronize from, so no jitter (random fixed at 1: the full delay).
      this.retryDelayMs = backoffDelay(this.writeFailures++, () => 1, {
        initialMs: this.options.retryMinMs ?? 500,
        maxMs: this.options.retryMaxMs ?? 30_000,
      });
      logger.error(`writing zone ${config.origin} failed; retrying in ${this.retryDelayMs} ms`, {
        error: failure.message,
      });
      this.dirty = true;
      this.pendingEvents = events.concat(this.pendingEvents).slice(0, MAX_TRACKED_EVENTS);
    }
  }

  /**
   * The version the zone's content reflects with `serials: 'source-version'`: the lowest version over every
   * source and scope (a scope behind the others is what the content is sure to include). Undefined with the
   * clock rule, or while a source has not reported one.
   */
  private sourceVersion(): bigint | undefined {
    if (this.options.serials !== 'source-version') return undefined;
    let lowest: bigint | undefined;
    for (const source of this.sources) {
      if (source.versions.size === 0) return undefined;
      for (const version of source.versions.values())
        if (lowest === undefined || version < lowest) lowest = version;
    }
    return lowest;
  }

  /**
   * Plans the reverse zones from the forward records (synchronously, before the first await) and starts the
   * writes of those whose plan says "write", all at once. The index follows the forward records by their
   * changes; a zone with no PTR changed since it was last written (or found identical on disk) is not rendered
   * again. A zone's state (serial, text, commit) is recorded as soon as its own file is renamed, whatever
   * happens to the other files. Never rejects: failures are outcomes, thrown by {@link reportReverse}; a zone
   * that failed stays uncommitted, and the next flush (which finds the forward zone unchanged) plans it again.
   */
  private writeReverse(sorted: readonly AddressRecord[]): Promise<ReverseOutcome[]> {
    if (this.reverse.length === 0) return Promise.resolve([]);
    const { config, store, clock, observer } = this.options;
    const writes: Promise<ReverseOutcome>[] = [];
    try {
      const index = this.reverseIndex;
      index.update(sorted);
      observer?.onReverseOutside?.(config.origin, index.outside);
      for (let zoneIndex = 0; zoneIndex < this.reverse.length; zoneIndex += 1) {
        const zone = this.reverse[zoneIndex] as ReverseZoneState;
        const changes = index.changes(zoneIndex);
        if (!changes.changed) continue;
        const records = index.count(zoneIndex);
        const started = clock.now();
        const plan = planRenderedReverseZone(
          zone.config,
          reverseZoneParts(zone.config, index.text(zoneIndex)),
          records,
          zone,
          { nowMs: started, validate: this.options.validate, sourceVersion: this.sourceVersion() },
          // After a restart the PTRs on disk are not known: every one counts as added (as for the forward zone).
          () => (zone.records === undefined ? { added: records, removed: 0 } : changes),
        );
        const settled = (): void => {
          zone.rendered = plan.rendered;
          zone.records = records;
          index.commit(zoneIndex);
        };
        if (plan.status === 'refused') writes.push(Promise.resolve({ zone, error: plan.error }));
        else if (plan.status === 'unchanged') settled();
        else {
          writes.push(
            store.write(zone.config.origin, plan.text).then(
              (): ReverseOutcome => {
                zone.serial = plan.serial;
                settled();
                const written = { serial: plan.serial, records, added: plan.added, removed: plan.removed };
                return { zone, written: { ...written, durationMs: clock.now() - started } };
              },
              (error: unknown): ReverseOutcome => ({ zone, error }),
            ),
          );
        }
      }
    } catch (error) {
      writes.push(Promise.resolve({ error }));
    }
    return Promise.all(writes);
  }

  /**
   * Logs and reports the reverse zones written (in range order, after the forward zone's own report), then
   * throws the first failure into write()'s handling. `throwFailure` false: only the reports (the forward
   * zone's failure is thrown instead).
   */
  private reportReverse(outcomes: readonly ReverseOutcome[], throwFailure = true): void {
    const { logger, observer } = this.options;
    let failure: { error: unknown } | undefined;
    for (const outcome of outcomes) {
      if (outcome.written === undefined || outcome.zone === undefined) {
        failure ??= { error: outcome.error };
        continue;
      }
      const { origin } = outcome.zone.config;
      const { serial, records, added, removed, durationMs } = outcome.written;
      observer?.onWrite?.({ origin, serial, records, added, removed, durationMs, eventDelaysMs: [] });
      logger.info(`wrote zone ${origin} serial ${serial}: ${records} records, +${added} \u2212${removed}`, {
        durationMs,
      });
    }
    if (failure !== undefined && throwFailure) throw failure.error;
  }

  /** Nothing but the serial would change (or the file on disk already has this content). */
  private unchanged(sorted: readonly AddressRecord[]): void {
    const { config, logger, observer } = this.options;
    this.diskParts = undefined;
    this.lastRecords = sorted;
    observer?.onUnchanged?.(config.origin);
    logger.debug(`zone ${config.origin} unchanged`, { serial: this.serial });
    this.retryDelayMs = undefined;
    this.writeFailures = 0;
    this.failingSinceMs = undefined;
    this.markReady();
  }

  private *allEntries(): Iterable<readonly [string, readonly ClaimedRecord[]]> {
    const multiple = this.sources.length > 1;
    for (const source of this.sources) {
      for (const [key, records] of source.entries) yield [multiple ? `${source.name}/${key}` : key, records];
    }
  }

  private reportAssembly(conflicts: readonly NameConflict[], rejected: readonly SkippedRecord[]): void {
    const { logger, observer } = this.options;
    const conflictIds = new Set<string>();
    for (const conflict of conflicts) {
      const id = `${conflict.name}\u0000${conflict.loser}\u0000${conflict.winner}`;
      if (conflictIds.has(id)) continue;
      conflictIds.add(id);
      if (this.knownConflicts.has(id)) continue;
      observer?.onConflict?.(conflict);
      logger.warn(describeConflict(conflict));
    }
    const rejectionIds = new Set<string>();
    for (const skipped of rejected) {
      const id = `${skipped.object ?? ''}\u0000${skipped.detail}`;
      if (rejectionIds.has(id)) continue;
      rejectionIds.add(id);
      if (this.knownRejections.has(id)) continue;
      observer?.onRejected?.(skipped);
      logger.warn(`record left out of zone ${this.origin}: ${skipped.detail}`, {
        object: skipped.object,
        reason: skipped.reason,
      });
    }
    // Only what this flush found: a problem that is gone is forgotten, so the sets do not grow with churn.
    this.knownConflicts = conflictIds;
    this.knownRejections = rejectionIds;
  }

  private markReady(): void {
    if (this.ready) return;
    this.ready = true;
    for (const resolve of this.readyWaiters.splice(0)) resolve();
  }
}
