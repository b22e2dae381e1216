import { readFile } from 'node:fs/promises';
import { Counter, Histogram } from 'prom-client';
import { collectVmiRecords, createMonitorSource, parseVmiDocuments } from '@zonewright/status-monitor';
import {
  createZoneConfig,
  describeConflict,
  FileZoneStore,
  planZone,
  previousZoneFromText,
  type Logger,
  type SkippedRecord,
  type ReverseRange,
  type ZoneConfig,
} from '@zonewright/zone';
import { UsageError } from '../errors.js';
import type { ZoneMetrics } from '../metrics.js';
import { runZoneWatcher, type RunnableSource } from '../runtime.js';

export type MonitorSourceKind = 'kubernetes' | 'directory';

export interface MonitorSettings {
  readonly source: MonitorSourceKind;
  readonly vmiDir: string;
  readonly zonesDir: string;
  readonly domain: string;
  readonly nameServerIp: string | undefined;
  readonly namespaces: readonly string[];
  readonly excludeNamespaces: readonly string[];
  readonly ttl: number;
  /** `--reverse-zone` ranges: one reverse zone each, PTRs to this zone's names. */
  readonly reverseRanges?: readonly ReverseRange[];
  readonly debounceMs: number;
  readonly maxDelayMs: number;
  /** /healthz turns 503 after zone writes failed this long without a break (default 60 s). */
  readonly unhealthyAfterMs?: number;
  readonly listen: string;
  readonly kubeconfig: string | undefined;
  readonly allowNonRoutable: boolean;
  readonly once: boolean;
}

/** `vm.<DOMAIN>`, or `vm` when DOMAIN is empty (KubeSecondaryDNS's zone name). */
export function monitorOrigin(domain: string): string {
  const trimmed = domain.trim().replace(/^\.+|\.+$/g, '');
  return trimmed === '' ? 'vm' : `vm.${trimmed}`;
}

/**
 * The name server address (the flag, NAME_SERVER_IP or POD_IP, by the option table); the directory demo may
 * fall back to 127.0.0.1, the cluster source refuses to guess.
 */
export function resolveNameServerIp(value: string | undefined, source: MonitorSourceKind): string {
  if (value !== undefined && value.trim() !== '') return value.trim();
  if (source === 'directory') return '127.0.0.1';
  throw new UsageError(
    'no name server address: set --name-server-ip (or NAME_SERVER_IP), or POD_IP from the downward API ' +
      '(fieldRef: status.podIP); it is the glue address of ns.<origin> in the zone',
  );
}

export function monitorZoneConfig(
  settings: Pick<MonitorSettings, 'domain' | 'nameServerIp' | 'ttl'>,
): ZoneConfig {
  try {
    return createZoneConfig({
      origin: monitorOrigin(settings.domain),
      nameServerAddresses: [settings.nameServerIp ?? ''],
      ttl: settings.ttl,
    });
  } catch (error) {
    throw new UsageError(`invalid zone settings: ${(error as Error).message}`);
  }
}

/** Counts skipped inputs; the sources log them (once per change of an object). */
function countSkips(metrics: ZoneMetrics, skipped: readonly SkippedRecord[]): void {
  for (const skip of skipped) metrics.skip(skip);
}

/** `zonewright monitor`: KubeVirt VMIs (API or a folder of objects) → zone `vm.<DOMAIN>`. */
export async function runMonitor(
  settings: MonitorSettings,
  logger: Logger,
  metrics: ZoneMetrics,
  signal?: AbortSignal,
): Promise<void> {
  const config = monitorZoneConfig(settings);
  const restarts = new Counter({
    name: 'zonewright_watch_restarts_total',
    help: 'Kubernetes watches started again, by reason (expired = 410 relist, closed, error, stalled).',
    labelNames: ['reason'],
    registers: [metrics.registry],
  });
  const events = new Counter({
    name: 'zonewright_api_events_total',
    help: 'Kubernetes watch events applied, by type.',
    labelNames: ['type'],
    registers: [metrics.registry],
  });
  const listDuration = new Histogram({
    name: 'zonewright_api_list_duration_seconds',
    help:
      'Complete Kubernetes lists (the first, and every relist after a 410), from the first page to the snapshot ' +
      'delivered; the watch runs meanwhile, so changes do not wait for it.',
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80],
    registers: [metrics.registry],
  });
  const fileErrors = new Counter({
    name: 'zonewright_source_file_errors_total',
    help: 'VMI files that could not be read or parsed (their last good state is kept).',
    registers: [metrics.registry],
  });
  await runZoneWatcher({
    command: 'monitor',
    config,
    reverseRanges: settings.reverseRanges ?? [],
    // Replicas watching the same API server write the same serial for the same content (ADR 0012).
    serials: settings.source === 'kubernetes' ? 'source-version' : 'clock',
    zonesDir: settings.zonesDir,
    debounceMs: settings.debounceMs,
    maxDelayMs: settings.maxDelayMs,
    unhealthyAfterWriteFailureMs: settings.unhealthyAfterMs,
    listen: settings.listen,
    logger,
    metrics,
    once: settings.once,
    ...(signal === undefined ? {} : { signal }),
    createSources: (reconciler): RunnableSource[] => {
      let source;
      try {
        source = createMonitorSource({
          reconciler,
          input:
            settings.source === 'directory'
              ? { kind: 'directory', directory: settings.vmiDir, watch: !settings.once }
              : { kind: 'kubernetes', kubeconfig: settings.kubeconfig, namespaces: settings.namespaces },
          origin: config.origin,
          logger,
          allowNonRoutable: settings.allowNonRoutable,
          excludeNamespaces: settings.excludeNamespaces,
          observer: {
            onFileError: ({ path, error }) => {
              fileErrors.inc();
              logger.warn(`cannot use ${path}: ${error.message}`);
            },
            onFileLoaded: ({ skipped }) => countSkips(metrics, skipped),
            onWatchRestart: ({ reason }) => restarts.inc({ reason }),
            onList: ({ durationMs }) => listDuration.observe(durationMs / 1000),
            onEvent: ({ type }) => events.inc({ type }),
            onSkipped: ({ skipped }) => countSkips(metrics, skipped),
            onInvalidObject: (error) => logger.warn(`ignoring an object from the API: ${error.message}`),
          },
        });
      } catch (error) {
        if (settings.source !== 'kubernetes') throw error;
        throw new UsageError(`cannot load Kubernetes configuration: ${(error as Error).message}`);
      }
      if (source.kind === 'directory') logger.info(`watching VMI objects in ${source.location}`);
      else
        logger.info(`watching virtualmachineinstances.kubevirt.io at ${source.location}`, {
          namespaces: settings.namespaces.length === 0 ? 'all' : settings.namespaces,
        });
      return [source];
    },
  });
}

export interface RenderSettings {
  readonly vmis: string;
  readonly domain: string;
  readonly nameServerIp: string | undefined;
  readonly ttl: number;
  readonly excludeNamespaces: readonly string[];
  readonly allowNonRoutable: boolean;
  /** Write db.<origin> into this folder (atomically) instead of printing the zone. */
  readonly zonesDir: string | undefined;
  readonly serial: number | undefined;
}

/**
 * `zonewright render --vmis FILE|-`: one zone from `kubectl get vmi -A -o json` output (or YAML), printed or
 * written. Skipped inputs go to the log with their reasons; the exit code is 0 when the zone was produced.
 */
export async function runRender(
  settings: RenderSettings,
  logger: Logger,
  out: (text: string) => void,
  readStdin: () => Promise<string>,
): Promise<void> {
  const config = monitorZoneConfig({ ...settings, nameServerIp: settings.nameServerIp ?? '127.0.0.1' });
  const text =
    settings.vmis === '-'
      ? await readStdin()
      : await readFile(settings.vmis, 'utf8').catch((error: unknown) => {
          throw new UsageError(`cannot read ${settings.vmis}: ${(error as Error).message}`);
        });
  const objects = parseVmiDocuments(text, settings.vmis === '-' ? 'standard input' : settings.vmis);
  if (objects instanceof Error) throw new UsageError(objects.message);
  const batch = collectVmiRecords(objects, {
    origin: config.origin,
    allowNonRoutable: settings.allowNonRoutable,
    excludeNamespaces: settings.excludeNamespaces,
  });
  for (const invalid of batch.invalid) logger.warn(`ignoring an object: ${invalid.message}`);
  for (const skip of batch.skipped)
    logger.warn(`skipped: ${skip.detail}`, { object: skip.object, reason: skip.reason });
  const store = settings.zonesDir === undefined ? undefined : new FileZoneStore(settings.zonesDir);
  if (store !== undefined) await store.prepare();
  const previous =
    store === undefined ? {} : previousZoneFromText(await store.read(config.origin), config.origin);
  const plan = planZone(config, batch.entries, previous, { nowMs: Date.now(), serial: settings.serial });
  for (const skip of plan.rejected)
    logger.warn(`skipped: ${skip.detail}`, { object: skip.object, reason: skip.reason });
  for (const conflict of plan.conflicts) logger.warn(describeConflict(conflict));
  if (plan.status === 'refused') throw plan.error;
  if (store === undefined) {
    if (plan.status === 'write') out(plan.text);
    return;
  }
  if (plan.status === 'unchanged') {
    logger.info(
      `zone ${config.origin} unchanged: ${plan.records.length} records from ${batch.vmis} VMIs already in ${store.pathOf(config.origin)}`,
    );
    return;
  }
  await store.write(config.origin, plan.text);
  logger.info(
    `wrote zone ${config.origin} serial ${plan.serial}: ${plan.records.length} records from ${batch.vmis} VMIs to ${store.pathOf(config.origin)}`,
  );
}
