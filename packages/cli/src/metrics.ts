import type {
  NameConflict,
  ReconcilerObserver,
  ReconcilerStatus,
  SkippedRecord,
  WriteInfo,
} from '@zonewright/zone';
import { behindSeconds, SKIP_REASONS } from '@zonewright/zone';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Sampling period of the event-loop delay histogram (`zonewright_process_nodejs_eventloop_lag_*`). prom-client's
 * default of 10 ms wakes an idle watcher 100 times a second, which alone cost ~0.7 % of a core in the CRI watcher
 * bench (its budget is 1 %); at 100 ms a blocked loop still shows up in the lag metrics and the wakeups cost ~10×
 * less.
 */
export const EVENT_LOOP_SAMPLING_MS = 100;

/** Prometheus metrics every long-running command serves, and the reconciler observer that feeds them. */
export class ZoneMetrics {
  readonly registry: Registry;
  readonly writes: Counter<'origin'>;
  readonly writeErrors: Counter<'origin'>;
  readonly serial: Gauge<'origin'>;
  readonly records: Gauge<'origin'>;
  readonly reverseOutside: Gauge<'origin'>;
  readonly skipped: Counter<'reason'>;
  readonly conflicts: Counter<'origin'>;
  readonly sourceErrors: Counter<'source'>;
  readonly eventToZone: Histogram<'origin'>;
  readonly writeDuration: Histogram<'origin'>;
  readonly zoneBehind: Gauge<'origin'>;
  readonly sourceUp: Gauge<'source'>;
  /** Zones whose staleness the two gauges read at every scrape. */
  private readonly staleness: { status: () => ReconcilerStatus; now: () => number }[] = [];

  constructor(registry = new Registry()) {
    this.registry = registry;
    collectDefaultMetrics({
      register: registry,
      prefix: 'zonewright_process_',
      eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLING_MS,
    });
    const registers = [registry];
    this.writes = new Counter({
      name: 'zonewright_zone_writes_total',
      help: 'Zone files written (renamed into place).',
      labelNames: ['origin'],
      registers,
    });
    this.writeErrors = new Counter({
      name: 'zonewright_zone_write_errors_total',
      help: 'Zone writes that failed or were refused; the previous file stayed.',
      labelNames: ['origin'],
      registers,
    });
    this.serial = new Gauge({
      name: 'zonewright_zone_serial',
      help: 'SOA serial of the zone file on disk.',
      labelNames: ['origin'],
      registers,
    });
    this.records = new Gauge({
      name: 'zonewright_zone_records',
      help: 'Address records in the zone file on disk.',
      labelNames: ['origin'],
      registers,
    });
    this.reverseOutside = new Gauge({
      name: 'zonewright_reverse_unpublished_addresses',
      help: 'Addresses of the zone that fall in no --reverse-zone range, so no PTR names them.',
      labelNames: ['origin'],
      registers,
    });
    this.skipped = new Counter({
      name: 'zonewright_records_skipped_total',
      help: 'Inputs that did not become records, by reason.',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of SKIP_REASONS) this.skipped.inc({ reason }, 0);
    this.conflicts = new Counter({
      name: 'zonewright_name_conflicts_total',
      help: 'Owner names claimed by more than one object (the lowest key keeps it).',
      labelNames: ['origin'],
      registers,
    });
    this.sourceErrors = new Counter({
      name: 'zonewright_source_errors_total',
      help: 'Errors reported by a source (API, runtime, files); the zone keeps its last state.',
      labelNames: ['source'],
      registers,
    });
    this.eventToZone = new Histogram({
      name: 'zonewright_event_to_zone_seconds',
      help: 'Delay from a source event (API watch event, poll, file change) to the zone file being renamed into place.',
      labelNames: ['origin'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10],
      registers,
    });
    this.writeDuration = new Histogram({
      name: 'zonewright_zone_write_duration_seconds',
      help: 'Time to assemble, render, validate and write one zone.',
      labelNames: ['origin'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    const staleness = this.staleness;
    this.zoneBehind = new Gauge({
      name: 'zonewright_zone_behind_seconds',
      help:
        'Seconds the zone file on disk has been behind its sources: since the oldest source event not written yet, ' +
        'or since a source became unreachable (until what it delivered after recovering is written); 0 when current.',
      labelNames: ['origin'],
      registers,
      collect() {
        for (const zone of staleness) {
          const status = zone.status();
          this.set({ origin: status.origin }, behindSeconds(status.behindSinceMs, zone.now()));
        }
      },
    });
    this.sourceUp = new Gauge({
      name: 'zonewright_source_up',
      help: '1 while a source (API, runtime, files) works, 0 from its first error until it reports healthy again.',
      labelNames: ['source'],
      registers,
      collect() {
        for (const zone of staleness) {
          for (const source of zone.status().sources) {
            this.set({ source: source.name }, source.failingSinceMs === undefined ? 1 : 0);
          }
        }
      },
    });
  }

  /** Serve `zonewright_zone_behind_seconds` and `zonewright_source_up` from a reconciler's status at each scrape. */
  trackStaleness(status: () => ReconcilerStatus, now: () => number): void {
    this.staleness.push({ status, now });
  }

  /** Counts an input a builder or the reconciler left out. */
  skip(skipped: SkippedRecord): void {
    this.skipped.inc({ reason: skipped.reason });
  }

  observer(origin: string): ReconcilerObserver {
    return {
      // info.origin: the reverse zones written beside the forward zone report their own origin.
      onWrite: (info: WriteInfo) => {
        const labels = { origin: info.origin };
        this.writes.inc(labels);
        this.serial.set(labels, info.serial);
        this.records.set(labels, info.records);
        this.writeDuration.observe(labels, info.durationMs / 1000);
        for (const delay of info.eventDelaysMs) this.eventToZone.observe(labels, delay / 1000);
      },
      onReverseOutside: (_origin: string, addresses: number) =>
        this.reverseOutside.set({ origin }, addresses),
      onWriteError: () => this.writeErrors.inc({ origin }),
      onConflict: (_conflict: NameConflict) => this.conflicts.inc({ origin }),
      onRejected: (skipped: SkippedRecord) => this.skip(skipped),
      onSourceError: (source: string) => this.sourceErrors.inc({ source }),
    };
  }
}
