/**
 * One entry point for the CLI: registers the VMI source (Kubernetes API or a folder) with a reconciler and
 * returns something to start and stop.
 */
import type { Logger, SkipReason, SourceHandle } from '@zonewright/zone';
import { DirectorySource } from './directory-source.js';
import type { DirectorySourceObserver } from './directory-source.js';
import { KubernetesSource, loadKubeConfig } from './kubernetes-source.js';
import type { KubernetesSourceObserver } from './kubernetes-source.js';

/** Name the VMI source registers under (`zonewright_..._source="kubevirt"` in metrics and status). */
export const VMI_SOURCE_NAME = 'kubevirt';

export type MonitorInput =
  | {
      readonly kind: 'kubernetes';
      /** kubeconfig file; absent: $KUBECONFIG, ~/.kube/config or in-cluster. */
      readonly kubeconfig?: string;
      readonly namespaces?: readonly string[];
    }
  | {
      readonly kind: 'directory';
      readonly directory: string;
      /** Keep watching (default true). */
      readonly watch?: boolean;
    };

export interface MonitorSourceOptions {
  readonly reconciler: { registerSource(name: string): SourceHandle };
  readonly input: MonitorInput;
  readonly origin: string;
  readonly logger: Logger;
  readonly excludeNamespaces?: readonly string[];
  readonly allowNonRoutable?: boolean;
  readonly observer?: KubernetesSourceObserver & DirectorySourceObserver;
}

export interface MonitorSource {
  readonly kind: MonitorInput['kind'];
  /** Kubernetes: returns at once (the reconciler becomes ready after the first list). Directory: after the scan. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Records skipped right now, by reason (for a gauge). */
  skippedCounts(): Map<SkipReason, number>;
}

/** Registers the VMI source with the reconciler (call before `reconciler.start()`). Throws on a bad kubeconfig. */
export function createMonitorSource(options: MonitorSourceOptions): MonitorSource {
  const handle = options.reconciler.registerSource(VMI_SOURCE_NAME);
  const common = {
    handle,
    origin: options.origin,
    logger: options.logger,
    excludeNamespaces: options.excludeNamespaces ?? [],
    allowNonRoutable: options.allowNonRoutable ?? false,
    ...(options.observer === undefined ? {} : { observer: options.observer }),
  };
  const input = options.input;
  if (input.kind === 'kubernetes') {
    const source = new KubernetesSource({
      ...common,
      kubeConfig: loadKubeConfig(input.kubeconfig),
      namespaces: input.namespaces ?? [],
    });
    return {
      kind: 'kubernetes',
      start: () => {
        source.start();
        return Promise.resolve();
      },
      stop: () => source.stop(),
      skippedCounts: () => source.skippedCounts(),
    };
  }
  const source = new DirectorySource({ ...common, directory: input.directory, watch: input.watch ?? true });
  return {
    kind: 'directory',
    start: () => source.start(),
    stop: () => source.stop(),
    skippedCounts: () => source.skippedCounts(),
  };
}
