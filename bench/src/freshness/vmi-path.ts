// VMI path: a VMI's address changes in the API → CoreDNS (shipped Corefile.monitor) answers the new address;
// then recovery: after an API server restart and after a 410, a change made once the API answers again.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { UdpDnsClient, sampleValue, scrapeMetrics, sleep, startCoreDns } from '@zonewright/testkit';
import { errorMessage } from '../common/log.js';
import { ZoneFileObserver } from '../common/zone-observer.js';
import { Generations } from '../monitor/latency-phase.js';
import { counterIncrease, histogramBetween, meanMs, summarizeHistogram } from '../monitor/metrics.js';
import type { HistogramSummary } from '../monitor/metrics.js';
import { stopProcess } from '../monitor/processes.js';
import { markerAddress, ownerOf, vmiAddress, vmiObject } from '../monitor/vmi-objects.js';
import { addressIn, countAddressRecords } from '../monitor/zone-text.js';
import { firstAnswerAt } from './answer-probe.js';
import { VM_ORIGIN, startShippedMonitor } from './monitor-process.js';
import { summarize } from './samples.js';
import type { FreshnessSample, FreshnessSummary, Percentiles } from './samples.js';
import { percentiles } from './samples.js';
import { corefileReloadMs } from './shipped.js';
import type { VmiApi } from './vmi-api.js';

export interface VmiPathSettings {
  readonly vmis: number;
  readonly samples: number;
  readonly recoveryTrials: number;
  /** How long the API server is away in each recovery trial. */
  readonly downMs: number;
}

export interface RecoveryResult {
  readonly trials: number;
  /** How long the API server was away in each trial (restart: until it answered again). */
  readonly awayMs: Percentiles;
  /** change made once the API answers → in the zone */
  readonly toZone: Percentiles;
  /** … → answered by CoreDNS */
  readonly toAnswer: Percentiles;
  /**
   * … → the monitor current again (`zonewright_source_up` 1: a relist delivered, or a resumed watch delivered);
   * each trial waits for it before the next one, so every trial starts from a monitor that is watching.
   */
  readonly toCurrent: Percentiles;
  /** Complete lists during the trials (the monitor's zonewright_api_list_duration_seconds), and their mean. */
  readonly lists: number;
  readonly listMeanMs: number | undefined;
  readonly failures: number;
}

export interface VmiPathResult {
  readonly api: string;
  readonly vmis: number;
  readonly reloadMs: number;
  readonly coreDnsVersion: string;
  readonly startToAnswerMs: number;
  readonly downMs: number;
  readonly freshness: FreshnessSummary;
  readonly monitorHistogram: HistogramSummary;
  readonly afterRestart: RecoveryResult;
  readonly after410: RecoveryResult;
  /** Increase of the monitor's zonewright_watch_restarts_total{reason="expired"} over the 410 trials. */
  readonly expiredWatches: number;
}

interface Context {
  readonly api: VmiApi;
  readonly observer: ZoneFileObserver;
  readonly dns: UdpDnsClient;
  readonly generations: Generations;
  readonly vmis: number;
  readonly metricsUrl: string;
}

const fqdn = (index: number): string => `${ownerOf(index)}.${VM_ORIGIN}`;

/** Changes VMI `index`'s address and follows it to the zone and to the answer; ms after the change. */
async function followChange(context: Context, index: number, timeoutMs: number): Promise<FreshnessSample> {
  const address = context.generations.bump(index);
  const owner = ownerOf(index);
  const inZone = context.observer.waitFor(
    (text) => addressIn(text, owner) === address,
    timeoutMs,
    `show ${owner} ${address}`,
  );
  inZone.catch(() => undefined); // awaited below; a failed change must not leave it unhandled
  const changedAt = performance.now();
  await context.api.modify(vmiObject(index, address));
  const [zone, answeredAt] = await Promise.all([
    inZone,
    firstAnswerAt(context.dns, fqdn(index), address, { timeoutMs }),
  ]);
  return { zoneMs: zone.at - changedAt, answerMs: answeredAt - changedAt };
}

async function sampleFreshness(
  context: Context,
  settings: VmiPathSettings,
  reloadMs: number,
  log: (message: string) => void,
): Promise<{ samples: FreshnessSample[]; timeouts: number }> {
  const samples: FreshnessSample[] = [];
  let timeouts = 0;
  const stride = Math.max(1, Math.floor((context.vmis - 1) / Math.max(1, settings.samples)));
  for (let sample = 0; sample < settings.samples; sample++) {
    // A random phase of CoreDNS's reload tick.
    await sleep(Math.random() * reloadMs);
    const index = 1 + ((sample * stride + (sample % 7)) % (context.vmis - 1));
    try {
      samples.push(await followChange(context, index, 10_000));
    } catch (error) {
      timeouts++;
      log(errorMessage(error));
    }
  }
  return { samples, timeouts };
}

/** When the monitor's Kubernetes source is up again (polled every 50 ms), on the performance.now() clock. */
async function monitorCurrentAt(metricsUrl: string, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const up = sampleValue(await scrapeMetrics(metricsUrl), 'zonewright_source_up', { source: 'kubernetes' });
    if (up === 1) return performance.now();
    await sleep(50);
  }
  throw new Error(`the monitor's source was not up again within ${timeoutMs} ms`);
}

async function recoveryTrials(
  context: Context,
  settings: VmiPathSettings,
  disturb: () => Promise<number>,
  what: string,
  log: (message: string) => void,
): Promise<RecoveryResult> {
  const toZone: number[] = [];
  const toAnswer: number[] = [];
  const toCurrent: number[] = [];
  const away: number[] = [];
  let failures = 0;
  const before = await scrapeMetrics(context.metricsUrl);
  for (let trial = 0; trial < settings.recoveryTrials; trial++) {
    away.push(await disturb());
    const changedAt = performance.now();
    try {
      const sample = await followChange(context, 1 + ((trial * 7919) % (context.vmis - 1)), 60_000);
      toZone.push(sample.zoneMs);
      toAnswer.push(sample.answerMs);
      const currentMs = (await monitorCurrentAt(context.metricsUrl, 180_000)) - changedAt;
      toCurrent.push(currentMs);
      log(
        `${what} ${trial + 1}: in the zone ${sample.zoneMs.toFixed(0)} ms, answered ${sample.answerMs.toFixed(0)} ms, monitor current ${currentMs.toFixed(0)} ms after the change`,
      );
    } catch (error) {
      failures++;
      log(`${what} ${trial + 1}: ${errorMessage(error)}`);
    }
    await sleep(1000);
  }
  const lists = histogramBetween(
    await scrapeMetrics(context.metricsUrl),
    before,
    'zonewright_api_list_duration_seconds',
  );
  return {
    trials: settings.recoveryTrials,
    awayMs: percentiles(away),
    toZone: percentiles(toZone),
    toAnswer: percentiles(toAnswer),
    toCurrent: percentiles(toCurrent),
    lists: lists.count,
    listMeanMs: meanMs(lists),
    failures,
  };
}

export async function measureVmiPath(
  api: VmiApi,
  settings: VmiPathSettings,
  temp: string,
  defer: (step: () => unknown) => void,
  log: (message: string) => void,
): Promise<VmiPathResult> {
  const { vmis } = settings;
  log(`VMI path: ${vmis} VMIs into the ${api.label}`);
  await api.create(
    Array.from({ length: vmis }, (_, i) => vmiObject(i, i === 0 ? markerAddress(0) : vmiAddress(i, 0))),
  );
  const zonesDir = path.join(temp, 'zones-vmi');
  await mkdir(zonesDir);
  const observer = new ZoneFileObserver(zonesDir, `db.${VM_ORIGIN}`, (error) => {
    log(`reading the zone failed: ${errorMessage(error)}`);
  });
  defer(() => {
    observer.close();
  });
  const coreDns = await startCoreDns({ corefile: 'monitor', zonesDirectory: zonesDir });
  defer(() => coreDns.stop());
  const dns = new UdpDnsClient(coreDns.address, coreDns.ports.dns);
  defer(() => {
    dns.close();
  });
  const complete = observer.waitFor(
    (text) => countAddressRecords(text) === 2 * vmis + 1,
    180_000,
    'hold every VMI',
  );
  complete.catch(() => undefined);
  const startedAt = performance.now();
  const monitor = await startShippedMonitor(api.kubeconfig, zonesDir, 180_000);
  defer(() => stopProcess(monitor.child));
  await complete;
  await firstAnswerAt(dns, fqdn(1), vmiAddress(1, 0), { timeoutMs: 30_000, intervalMs: 20 });
  const startToAnswerMs = performance.now() - startedAt;
  log(`monitor + CoreDNS answer every VMI ${startToAnswerMs.toFixed(0)} ms after the monitor's spawn`);

  const reloadMs = corefileReloadMs('monitor');
  const context: Context = {
    api,
    observer,
    dns,
    generations: new Generations(vmis),
    vmis,
    metricsUrl: monitor.metricsUrl,
  };
  const before = await scrapeMetrics(monitor.metricsUrl);
  const { samples, timeouts } = await sampleFreshness(context, settings, reloadMs, log);
  const after = await scrapeMetrics(monitor.metricsUrl);
  const freshness = summarize(samples, timeouts);
  log(
    `VMI change → answer: ${JSON.stringify(freshness.total)}; monitor ${JSON.stringify(freshness.watcher)}`,
  );

  const afterRestart = await recoveryTrials(
    context,
    settings,
    () => api.restart(settings.downMs),
    'restart',
    log,
  );
  const before410 = await scrapeMetrics(monitor.metricsUrl);
  const after410 = await recoveryTrials(
    context,
    settings,
    () => api.expireHistory(settings.downMs),
    '410',
    log,
  );
  // Proof that the trials really produced 410s: the monitor counts its re-watches that were answered Expired.
  const expiredWatches = counterIncrease(
    await scrapeMetrics(monitor.metricsUrl),
    before410,
    'zonewright_watch_restarts_total',
    { reason: 'expired' },
  );
  await stopProcess(monitor.child);
  return {
    api: api.label,
    vmis,
    reloadMs,
    coreDnsVersion: coreDns.binary.version,
    startToAnswerMs,
    downMs: settings.downMs,
    freshness,
    monitorHistogram: summarizeHistogram(histogramBetween(after, before, 'zonewright_event_to_zone_seconds')),
    afterRestart,
    after410,
    expiredWatches,
  };
}
