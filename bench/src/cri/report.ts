import type { Spread } from '../common/stats.js';

export interface MemorySplit {
  readonly rssMiB: number;
  readonly anonMiB: number;
  readonly fileMiB: number;
}

export interface IdleMeasurement {
  readonly cpuWindowSeconds: number;
  readonly default: MemorySplit & { readonly cpuPercent: number; readonly wakeupsPerSecond: number };
  readonly image: MemorySplit & { readonly cpuPercent: number; readonly wakeupsPerSecond: number };
}

export interface LoadedMeasurement extends MemorySplit {
  readonly rssJustAfterMiB: number;
  readonly cpuPercent: number;
  readonly containerdCpuPercent: number;
  readonly rssAfterWindowMiB: number;
  readonly note?: string;
}

/** The cri section of results.json. */
export interface CriResult {
  readonly machine: string;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly date: string;
  readonly sandboxes: number;
  readonly windowSeconds: number;
  readonly samples: number;
  readonly settleSeconds: number;
  readonly intervalMs: number;
  readonly imageFlags: string;
  readonly targets: { readonly rssMB: number; readonly cpuPercent: number; readonly latencyMs: number };
  readonly containerdStartMs: number;
  readonly idle: IdleMeasurement;
  readonly runPodSandboxMs: Omit<Spread, 'all'> & { readonly totalSeconds: number };
  readonly readyToRecordMs: { readonly default: Spread; readonly image: Spread };
  readonly totalSandboxes: number;
  readonly loaded: {
    readonly settleSeconds: number;
    readonly default: LoadedMeasurement;
    readonly image: LoadedMeasurement;
  };
  readonly statusEveryInterval: {
    readonly cpuPercent: number;
    readonly containerdCpuPercent: number;
    readonly rssMiB: number;
  };
  readonly ratioStatusEveryIntervalOverCached: {
    readonly watcher: number | null;
    readonly containerd: number | null;
    readonly total: number | null;
  };
  readonly markdown: string;
}

/** MiB → SI megabytes, one decimal. */
export const megabytes = (mib: number): number => Math.round(mib * 1.048576 * 10) / 10;
const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
const spreadText = (s: Spread): string => `${s.min} / ${s.median} / ${s.p90} / ${s.max} ms`;
const ratioText = (value: number | null): string => (value === null ? 'n/a' : String(value));

export function renderCriMarkdown(r: CriResult): string {
  const mb = megabytes;
  const { targets } = r;
  const loadedImageMiB = Math.max(r.loaded.image.rssMiB, r.loaded.image.rssAfterWindowMiB);
  return [
    '## CRI watcher (issue 4)',
    '',
    `Machine: ${r.machine}; load average ${r.loadBefore.join(' ')} before, ${r.loadAfter.join(' ')} after (2 cores shared with other`,
    `engineers' work). Date: ${r.date}. Real containerd 1.6 (testkit, own netns, bridge CNI), \`zonewright cri-watch --interval 2s\`,`,
    'RSS from /proc VmRSS, CPU = utime+stime over the window, wakeups = voluntary context switches of the main thread.',
    `"node image" = the node image's ENTRYPOINT (Dockerfile.cri): \`node ${r.imageFlags} zonewright.js\` on the bundle from`,
    '`scripts/bundle.mjs`; "tsc output" = `node packages/cli/bin/zonewright.js` on the `tsc -b` output with Node\'s defaults,',
    `for comparison. ${r.sandboxes} sandboxes, then ${r.samples} more for the latency samples (${r.totalSandboxes} during the CPU windows of`,
    `${r.windowSeconds} s; idle CPU window ${r.idle.cpuWindowSeconds} s). Both run side by side in this one run.`,
    '',
    '| measurement | node image | tsc output, Node defaults |',
    '|---|---:|---:|',
    `| RSS idle, no sandboxes | ${r.idle.image.rssMiB} MiB (${mb(r.idle.image.rssMiB)} MB) | ${r.idle.default.rssMiB} MiB (${mb(r.idle.default.rssMiB)} MB) |`,
    `| of which private (RssAnon) / node binary and other files (RssFile) | ${r.idle.image.anonMiB} / ${r.idle.image.fileMiB} MiB | ${r.idle.default.anonMiB} / ${r.idle.default.fileMiB} MiB |`,
    `| CPU idle, no sandboxes | ${r.idle.image.cpuPercent} % | ${r.idle.default.cpuPercent} % |`,
    `| event-loop wakeups idle | ${r.idle.image.wakeupsPerSecond} /s | ${r.idle.default.wakeupsPerSecond} /s |`,
    `| RSS with ${r.totalSandboxes} sandboxes, idle ${r.loaded.settleSeconds} s after the last change | ${r.loaded.image.rssMiB} MiB (${mb(r.loaded.image.rssMiB)} MB) | ${r.loaded.default.rssMiB} MiB (${mb(r.loaded.default.rssMiB)} MB) |`,
    `| of which RssAnon / RssFile | ${r.loaded.image.anonMiB} / ${r.loaded.image.fileMiB} MiB | ${r.loaded.default.anonMiB} / ${r.loaded.default.fileMiB} MiB |`,
    `| RSS right after the last change; after the CPU window (restarted process) | ${r.loaded.image.rssJustAfterMiB}; ${r.loaded.image.rssAfterWindowMiB} MiB | ${r.loaded.default.rssJustAfterMiB}; ${r.loaded.default.rssAfterWindowMiB} MiB |`,
    `| watcher CPU with ${r.totalSandboxes} sandboxes | ${r.loaded.image.cpuPercent} % | ${r.loaded.default.cpuPercent} % |`,
    `| containerd CPU meanwhile | ${r.loaded.image.containerdCpuPercent} % | ${r.loaded.default.containerdCpuPercent} % |`,
    `| ready → record, min / median / p90 / max (${r.samples} samples) | ${spreadText(r.readyToRecordMs.image)} | ${spreadText(r.readyToRecordMs.default)} |`,
    '',
    `One verbose PodSandboxStatus per sandbox per interval (what smarter-dns does via \`crictl inspectp\`, here in-process,`,
    `no forks; library child on the tsc output, Node defaults): watcher ${r.statusEveryInterval.cpuPercent} %, containerd ${r.statusEveryInterval.containerdCpuPercent} %, RSS ${r.statusEveryInterval.rssMiB} MiB.`,
    `Ratio to the CLI's cached mode with the same code and flags (tsc output): watcher ×${ratioText(r.ratioStatusEveryIntervalOverCached.watcher)}, containerd ×${ratioText(r.ratioStatusEveryIntervalOverCached.containerd)}, total ×${ratioText(r.ratioStatusEveryIntervalOverCached.total)}.`,
    `RunPodSandbox: median ${r.runPodSandboxMs.median} ms, max ${r.runPodSandboxMs.max} ms; ${r.sandboxes} in ${r.runPodSandboxMs.totalSeconds} s (4 at a time).`,
    '',
    'Targets (judged on the node image, which is what the DaemonSet runs; 60 MB read as SI megabytes, the stricter reading):',
    `- RSS ≤ ${targets.rssMB} MB idle: **${met(mb(r.idle.image.rssMiB) <= targets.rssMB)}** (${mb(r.idle.image.rssMiB)} MB = ${r.idle.image.rssMiB} MiB without sandboxes). With ${r.totalSandboxes} sandboxes, idle (the larger of the settled and the restarted process): ${mb(loadedImageMiB)} MB = ${loadedImageMiB} MiB (**${met(mb(loadedImageMiB) <= targets.rssMB)}** read as SI megabytes, **${met(loadedImageMiB <= targets.rssMB)}** read as MiB). tsc output with Node defaults: ${mb(r.idle.default.rssMiB)} MB idle.`,
    `- CPU ≤ ${targets.cpuPercent} % of one core with ${r.totalSandboxes} sandboxes at 2 s: **${met(r.loaded.image.cpuPercent <= targets.cpuPercent)}** (${r.loaded.image.cpuPercent} %; tsc output ${r.loaded.default.cpuPercent} %).`,
    `- Ready → record ≤ ${targets.latencyMs} ms (max of ${r.samples}): **${met(r.readyToRecordMs.image.max <= targets.latencyMs)}** (${r.readyToRecordMs.image.max} ms; tsc output ${r.readyToRecordMs.default.max} ms).`,
  ].join('\n');
}
