import { existsSync } from 'node:fs';
import { Counter, Gauge, Histogram } from 'prom-client';
import {
  chokidarSocketWatch,
  CriClient,
  CriWatcher,
  resolveRuntimeEndpoint,
  RuntimeEndpointError,
} from '@zonewright/cri-watcher';
import {
  createZoneConfig,
  systemClock,
  toAddress,
  type Logger,
  type ReverseRange,
  type ZoneConfig,
} from '@zonewright/zone';
import { UsageError } from '../errors.js';
import type { ZoneMetrics } from '../metrics.js';
import { runZoneWatcher } from '../runtime.js';

export interface CriWatchSettings {
  readonly runtimeEndpoint: string | undefined;
  readonly criDir: string | undefined;
  readonly criFile: string | undefined;
  readonly intervalMs: number;
  readonly nodeIps: readonly string[];
  readonly clusterDomain: string;
  readonly zonesDir: string;
  readonly nameServerIp: string | undefined;
  readonly ttl: number;
  /** `--reverse-zone` ranges: one reverse zone each, PTRs to this zone's names. */
  readonly reverseRanges?: readonly ReverseRange[];
  readonly debounceMs: number;
  readonly maxDelayMs: number;
  /** /healthz turns 503 after zone writes failed this long without a break (default 60 s). */
  readonly unhealthyAfterMs?: number;
  readonly listen: string;
  readonly once: boolean;
  readonly timeoutMs: number;
}

/** The pod zone: origin = cluster domain; its NS glue is the node-local DNS (first node IP unless given). */
export function criZoneConfig(
  settings: Pick<CriWatchSettings, 'clusterDomain' | 'nameServerIp' | 'nodeIps' | 'ttl'>,
): ZoneConfig {
  const glue = settings.nameServerIp ?? settings.nodeIps[0] ?? '127.0.0.1';
  try {
    return createZoneConfig({
      origin: settings.clusterDomain,
      nameServerAddresses: [glue],
      ttl: settings.ttl,
    });
  } catch (error) {
    throw new UsageError(`invalid zone settings: ${(error as Error).message}`);
  }
}

/** `--node-ip` values (from the downward API, `status.hostIPs`): real addresses, never loopback. */
export function parseNodeIps(values: readonly string[]): string[] {
  return values.map((value) => {
    const result = toAddress(value);
    if (!result.ok)
      throw new UsageError(
        `--node-ip ${JSON.stringify(value)}: ${result.detail}; hostNetwork pods need the node's real address`,
      );
    return result.address;
  });
}

/** `zonewright cri-watch`: pod sandboxes on this node (CRI) → the cluster-domain zone. */
export async function runCriWatch(
  settings: CriWatchSettings,
  logger: Logger,
  metrics: ZoneMetrics,
): Promise<void> {
  let resolved;
  try {
    resolved = resolveRuntimeEndpoint({
      runtimeEndpoint: settings.runtimeEndpoint,
      criDir: settings.criDir,
      criFile: settings.criFile,
      exists: existsSync,
    });
  } catch (error) {
    if (error instanceof RuntimeEndpointError) throw new UsageError(error.message);
    throw error;
  }
  logger.info(resolved.description, { endpoint: resolved.endpoint, from: resolved.from });
  if (settings.nodeIps.length === 0) {
    logger.warn('no --node-ip given: hostNetwork pods get no records (set NODE_IP from status.hostIP)');
  }
  const config = criZoneConfig(settings);
  const registers = [metrics.registry];
  const polls = new Counter({
    name: 'zonewright_cri_polls_total',
    help: 'ListPodSandbox polls, by trigger.',
    labelNames: ['trigger'],
    registers,
  });
  const pollDuration = new Histogram({
    name: 'zonewright_cri_poll_duration_seconds',
    help: 'Duration of one poll (list + status of new sandboxes).',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers,
  });
  const sandboxes = new Gauge({
    name: 'zonewright_cri_sandboxes',
    help: 'Pod sandboxes the runtime listed at the last poll, by state.',
    labelNames: ['state'],
    registers,
  });
  const statusCalls = new Counter({
    name: 'zonewright_cri_status_calls_total',
    help: 'PodSandboxStatus calls (only for sandboxes not seen before).',
    registers,
  });
  const runtimeErrors = new Counter({
    name: 'zonewright_cri_runtime_errors_total',
    help: 'Polls that failed (the zone keeps its last state).',
    registers,
  });
  const reconnects = new Counter({
    name: 'zonewright_cri_reconnects_total',
    help: 'Times the runtime answered again after failures.',
    registers,
  });
  const client = new CriClient({ endpoint: resolved.endpoint, timeoutMs: settings.timeoutMs });
  try {
    await runZoneWatcher({
      command: 'cri-watch',
      config,
      reverseRanges: settings.reverseRanges ?? [],
      zonesDir: settings.zonesDir,
      debounceMs: settings.debounceMs,
      maxDelayMs: settings.maxDelayMs,
      unhealthyAfterWriteFailureMs: settings.unhealthyAfterMs,
      listen: settings.listen,
      logger,
      metrics,
      once: settings.once,
      createSources: (reconciler) => {
        const watcher = new CriWatcher({
          runtime: client,
          source: reconciler.registerSource('cri'),
          clusterDomain: config.origin,
          nodeIps: settings.nodeIps,
          clock: systemClock,
          logger,
          intervalMs: settings.intervalMs,
          socketPath: resolved.socketPath,
          watchSocket: chokidarSocketWatch,
          observer: {
            onPoll: (result) => {
              polls.inc({ trigger: result.trigger });
              pollDuration.observe(result.durationMs / 1000);
              sandboxes.set({ state: 'ready' }, result.ready);
              sandboxes.set({ state: 'notready' }, result.sandboxes - result.ready);
              statusCalls.inc(result.statusCalls);
            },
            onRuntimeError: () => runtimeErrors.inc(),
            onReconnect: () => reconnects.inc(),
            onSkipped: (skipped) => metrics.skip(skipped),
          },
        });
        return [
          {
            start: async () => {
              if (settings.once) await watcher.pollOnce();
              else await watcher.start();
            },
            stop: () => watcher.stop(),
          },
        ];
      },
    });
  } finally {
    client.close();
  }
}
