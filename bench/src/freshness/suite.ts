// Freshness (issue 10): change → answer at a real CoreDNS running the shipped Corefiles, for the VMI path
// (monitor, API server, Corefile.monitor), the pod path (real containerd, cri-watch, Corefile.node), and the
// VMI path's recovery after an API server restart and after a 410.
// Sizes: ZW_BENCH_FRESHNESS_VMIS (10,000; quick 1,000), _SAMPLES (100; quick 20), _SANDBOXES (100; quick 10),
// _RECOVERY_TRIALS (5; quick 2), _WINDOW_SECONDS (60; quick 6). Run as root (containerd in a netns).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cleanUp } from '@zonewright/testkit';
import { errorMessage, progressLogger } from '../common/log.js';
import { BenchSettingError, intSetting } from '../common/settings.js';
import { loadAverage, machineDescription } from '../common/stats.js';
import type { SuiteContext, SuiteOutcome } from '../common/suite.js';
import { measurePodPath } from './pod-path.js';
import { FRESHNESS_TARGETS, freshnessChart, renderFreshnessMarkdown } from './report.js';
import type { FreshnessResult } from './report.js';
import { kubeApiServerReason, kubeVmiApi } from './kube-vmi-api.js';
import { fakeVmiApi } from './vmi-api.js';
import type { VmiApi } from './vmi-api.js';
import { measureVmiPath } from './vmi-path.js';

const log = progressLogger('freshness');

/**
 * The real kube-apiserver when its binary is there (ZW_BENCH_FRESHNESS_API=real insists, =fake forces the fake
 * API server); without it the VMI path runs on the fake server and says so in the report and loudly here.
 */
async function vmiApiFor(temp: string): Promise<VmiApi> {
  const wanted = process.env.ZW_BENCH_FRESHNESS_API ?? 'auto';
  if (!['auto', 'real', 'fake'].includes(wanted))
    throw new BenchSettingError(`ZW_BENCH_FRESHNESS_API must be auto, real or fake, got ${wanted}`);
  const missing = wanted === 'fake' ? 'ZW_BENCH_FRESHNESS_API=fake' : kubeApiServerReason();
  if (missing === undefined) return kubeVmiApi(temp);
  if (wanted === 'real')
    throw new BenchSettingError(`ZW_BENCH_FRESHNESS_API=real, but ${kubeApiServerReason() ?? ''}`);
  log(`!!! the VMI path runs on the FAKE API server, not a real kube-apiserver: ${missing}`);
  return fakeVmiApi(temp);
}

export async function runFreshnessSuite(context: SuiteContext): Promise<SuiteOutcome<FreshnessResult>> {
  const { size } = context;
  const samples = intSetting('ZW_BENCH_FRESHNESS_SAMPLES', { full: 100, quick: 20 }, size, { min: 1 });
  const vmiSettings = {
    vmis: intSetting('ZW_BENCH_FRESHNESS_VMIS', { full: 10_000, quick: 1000 }, size, {
      min: 2,
      max: 100_000,
    }),
    samples,
    recoveryTrials: intSetting('ZW_BENCH_FRESHNESS_RECOVERY_TRIALS', { full: 5, quick: 2 }, size, { min: 1 }),
    downMs: 3000,
  };
  const podSettings = {
    sandboxes: intSetting('ZW_BENCH_FRESHNESS_SANDBOXES', { full: 100, quick: 10 }, size, {
      min: 0,
      max: 250,
    }),
    samples,
    windowSeconds: intSetting('ZW_BENCH_FRESHNESS_WINDOW_SECONDS', { full: 60, quick: 6 }, size, { min: 1 }),
  };
  const header = { machine: machineDescription(), loadBefore: loadAverage(), date: new Date().toISOString() };
  const temp = mkdtempSync(path.join(os.tmpdir(), 'zw-bench-fresh-'));
  const cleanups: (() => unknown)[] = [];
  const defer = (step: () => unknown): void => {
    cleanups.push(step);
  };
  try {
    const api = await vmiApiFor(temp);
    defer(() => api.stop());
    const vmi = await measureVmiPath(api, vmiSettings, temp, defer, log);
    const pod = await measurePodPath(podSettings, temp, defer, log);
    const result = { ...header, targets: FRESHNESS_TARGETS, vmi, pod, loadAfter: loadAverage() };
    return {
      section: { ...result, markdown: renderFreshnessMarkdown(result) },
      charts: { 'freshness.svg': freshnessChart(result) },
    };
  } finally {
    await cleanUp('freshness bench', [
      ...cleanups.reverse(),
      () => {
        rmSync(temp, { recursive: true, force: true });
      },
    ]).catch((error: unknown) => {
      log(errorMessage(error));
    });
  }
}
