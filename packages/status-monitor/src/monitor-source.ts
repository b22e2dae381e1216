/**
 * One entry point for the CLI: registers the VMI source (Kubernetes API or a folder) with a reconciler and
 * returns something to start and stop.
 */
import type { Logger, SourceHandle } from '@zonewright/zone';
import { DirectorySource } from './directory-source.js';
import type { DirectorySourceObserver } from './directory-source.js';
import { KubernetesSource, loadKubeConfig } from './kubernetes-source.js';
import type { KubernetesSourceObserver } from './kubernetes-source.js';

export type MonitorInput =
  | {
      readonly kind: 'kubernetes';
      /** kubeconfig file; absent: $KUBECONFIG, ~/.kube/config or in-cluster. */
      readonly kubeconfig?: string | undefined;
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
  /** Also the name it registers under with the reconciler (`/status`, logs): `kubernetes` or `directory`. */
  readonly kind: MonitorInput['kind'];
  /** Where the VMIs come from: the folder, or the API server's URL. */
  readonly location: string;
  /** Kubernetes: returns at once (the reconciler becomes ready after the first list). Directory: after the scan. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The one way to create the VMI source (the CLI's `monitor` and tests use it): loads the kubeconfig first (a
 * bad one throws before anything is registered), then registers the source with the reconciler under its
 * kind. Call before `reconciler.start()`.
 */
export function createMonitorSource(options: MonitorSourceOptions): MonitorSource {
  const input = options.input;
  const common = () => ({
    handle: options.reconciler.registerSource(input.kind),
    origin: options.origin,
    logger: options.logger,
    excludeNamespaces: options.excludeNamespaces ?? [],
    allowNonRoutable: options.allowNonRoutable ?? false,
    ...(options.observer === undefined ? {} : { observer: options.observer }),
  });
  if (input.kind === 'kubernetes') {
    const kubeConfig = loadKubeConfig(input.kubeconfig);
    const source = new KubernetesSource({ ...common(), kubeConfig, namespaces: input.namespaces ?? [] });
    return {
      kind: 'kubernetes',
      location: kubeConfig.getCurrentCluster()?.server ?? 'an unnamed cluster',
      start: () => {
        source.start();
        return Promise.resolve();
      },
      stop: () => source.stop(),
    };
  }
  const source = new DirectorySource({ ...common(), directory: input.directory, watch: input.watch ?? true });
  return {
    kind: 'directory',
    location: input.directory,
    start: () => source.start(),
    stop: () => source.stop(),
  };
}
