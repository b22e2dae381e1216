import { svgLineChart } from '../common/svg-chart.js';
import type { PodPathResult } from './pod-path.js';
import type { Percentiles } from './samples.js';
import type { RecoveryResult, VmiPathResult } from './vmi-path.js';

export interface FreshnessTargets {
  readonly vmiP99Ms: number;
  readonly podP95Ms: number;
  readonly criCpuPercent: number;
  readonly criRssMB: number;
  readonly recoveryMs: number;
}

export const FRESHNESS_TARGETS: FreshnessTargets = {
  vmiP99Ms: 1000,
  podP95Ms: 2000,
  criCpuPercent: 1,
  criRssMB: 60,
  recoveryMs: 2000,
};

/** The freshness section of results.json. */
export interface FreshnessResult {
  readonly machine: string;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly date: string;
  readonly targets: FreshnessTargets;
  readonly vmi: VmiPathResult;
  readonly pod: PodPathResult;
  readonly markdown: string;
}

const met = (ok: boolean): string => (ok ? '**met**' : '**NOT met**');
const p = (x: Percentiles): string => `${x.p50} / ${x.p95} / ${x.p99} / ${x.max} ms`;
const megabytes = (mib: number): number => Math.round(mib * 1.048576 * 10) / 10;
const recovered = (r: RecoveryResult, target: number): boolean => r.failures === 0 && r.toZone.max <= target;

export function renderFreshnessMarkdown(r: Omit<FreshnessResult, 'markdown'>): string {
  const { vmi, pod, targets: t } = r;
  const criRssMB = megabytes(Math.max(pod.watcher.rssMaxMiB, pod.watcher.rssAfterMiB));
  return [
    '## Freshness: change → answer at CoreDNS (issue 10)',
    '',
    `Machine: ${r.machine}; load average ${r.loadBefore.join(' ')} before, ${r.loadAfter.join(' ')} after. Date: ${r.date}.`,
    `A real CoreDNS ${vmi.coreDnsVersion} runs the shipped Corefiles (testkit \`startCoreDns\`: only the zones directory, ports, bind`,
    'address and upstream changed); each change is followed by a UDP query loop (testkit `UdpDnsClient`, every 5 ms) until',
    'CoreDNS answers the new address, and by a watch on the zone file (renamed into place). Samples start at random phases',
    'of the reload tick. Percentiles are nearest-rank: p50 / p95 / p99 / max.',
    '',
    '| path | samples | change → answer | watcher: change → zone renamed | CoreDNS: renamed → answered |',
    '|---|---:|---:|---:|---:|',
    `| VMI, ${vmi.vmis.toLocaleString('en')} VMIs, ${vmi.api}, \`zonewright monitor\` (deploy/monitor/base args), Corefile.monitor (reload ${vmi.reloadMs} ms) | ${vmi.freshness.total.count} (${vmi.freshness.timeouts} timed out) | ${p(vmi.freshness.total)} | ${p(vmi.freshness.watcher)} | ${p(vmi.freshness.coreDns)} |`,
    `| pod, real containerd, ${pod.sandboxes} sandboxes, \`zonewright cri-watch\` (node DaemonSet args, node image command), Corefile.node (reload ${pod.reloadMs} ms) | ${pod.freshness.total.count} (${pod.freshness.timeouts} timed out) | ${p(pod.freshness.total)} | ${p(pod.freshness.watcher)} | ${p(pod.freshness.coreDns)} |`,
    '',
    `The monitor's own \`zonewright_event_to_zone_seconds\` over the VMI samples: ${vmi.monitorHistogram.count} events, mean ${Math.round(vmi.monitorHistogram.meanMs ?? NaN)} ms, p99 (buckets) ${Math.round(vmi.monitorHistogram.p99Ms)} ms. Monitor spawn → every VMI answered: ${Math.round(vmi.startToAnswerMs)} ms.`,
    `CRI watcher (\`${pod.watcherArgs.join(' ')}\`): CPU ${pod.watcher.cpuPercentDuringSamples} % of a core while the samples ran, ${pod.watcher.cpuPercentQuiet} % over ${pod.watcher.quietWindowSeconds} s without changes; RSS max ${pod.watcher.rssMaxMiB} MiB (${criRssMB} MB).`,
    '',
    `Recovery (${vmi.api}): the API server goes away (at least ${vmi.downMs} ms; a real one is stopped, kept down, started and waited for), and a VMI changes as soon as it answers again. 410: writes the monitor does not watch, history compacted past its position, then the restart (the fake server: connections reset, history expired).`,
    '',
    '| after | trials | API away, p50 / max | change → in the zone | change → answered | change → monitor current | lists (mean) | failures |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    recoveryRow('API server restart', vmi.afterRestart),
    recoveryRow('compacted history (410)', vmi.after410),
    '',
    `The monitor's \`zonewright_watch_restarts_total{reason="expired"}\` rose by ${vmi.expiredWatches} over the ${vmi.after410.trials} 410 trials (each trial should add at least one). "Monitor current": its \`zonewright_source_up\` is 1 again (after a 410: the relist's snapshot delivered); each trial waits for it before the next. "Lists": complete lists during the trials (\`zonewright_api_list_duration_seconds\`): after a 410 the relist pages while its watch already delivers the change.`,
    '',
    'Targets:',
    `- VMI change → answer p99 ≤ ${t.vmiP99Ms} ms at ${vmi.vmis.toLocaleString('en')} VMIs: ${met(vmi.freshness.timeouts === 0 && vmi.freshness.total.p99 <= t.vmiP99Ms)} (${vmi.freshness.total.p99} ms).`,
    `- Pod ready → answer p95 ≤ ${t.podP95Ms} ms: ${met(pod.freshness.timeouts === 0 && pod.freshness.total.p95 <= t.podP95Ms)} (${pod.freshness.total.p95} ms); CRI watcher ≤ ${t.criCpuPercent} % CPU: ${met(pod.watcher.cpuPercentQuiet <= t.criCpuPercent)} (${pod.watcher.cpuPercentQuiet} % quiet, ${pod.watcher.cpuPercentDuringSamples} % with a new pod every few seconds); ≤ ${t.criRssMB} MB: ${met(criRssMB <= t.criRssMB)} (${criRssMB} MB).`,
    `- Recovery ≤ ${t.recoveryMs} ms (max, in the zone): after a restart ${met(recovered(vmi.afterRestart, t.recoveryMs))} (${vmi.afterRestart.toZone.max} ms), after a 410 ${met(recovered(vmi.after410, t.recoveryMs))} (${vmi.after410.toZone.max} ms).`,
    '',
    '![change → answer, every sample sorted](freshness.svg)',
  ].join('\n');
}

function recoveryRow(label: string, r: FreshnessResult['vmi']['afterRestart']): string {
  const mean = r.listMeanMs === undefined ? '' : ` (${Math.round(r.listMeanMs)} ms)`;
  return `| ${label} | ${r.trials} | ${r.awayMs.p50} / ${r.awayMs.max} ms | ${p(r.toZone)} | ${p(r.toAnswer)} | ${p(r.toCurrent)} | ${r.lists}${mean} | ${r.failures} |`;
}

/** Every sample's change → answer, sorted, against its rank (0–100 %): both paths in one chart. */
export function freshnessChart(r: Pick<FreshnessResult, 'vmi' | 'pod'>): string {
  const ranked = (values: readonly number[]): [number, number][] => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.map((value, index) => [
      sorted.length === 1 ? 100 : (index / (sorted.length - 1)) * 100,
      value,
    ]);
  };
  return svgLineChart({
    title: 'Change → answer at CoreDNS (shipped Corefiles), every sample sorted',
    xLabel: 'share of samples (%)',
    yLabel: 'milliseconds',
    xScale: 'linear',
    xTicks: [0, 25, 50, 75, 95, 100],
    series: [
      { name: `VMI (${r.vmi.vmis} VMIs)`, points: ranked(r.vmi.freshness.totals) },
      { name: `pod (${r.pod.sandboxes} sandboxes)`, points: ranked(r.pod.freshness.totals) },
    ],
  });
}
