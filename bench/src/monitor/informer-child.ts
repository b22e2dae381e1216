// The reference for the StatusMonitor memory target: @kubernetes/client-node's default informer (`makeInformer`
// with an unpaged list, as its README shows) on the same VMI path, in its own process. It prints one JSON line
// once the informer has listed and started watching, then keeps the cache until it is killed; the monitor suite
// reads its RSS from /proc. Usage: node informer-child.js KUBECONFIG
import { performance } from 'node:perf_hooks';
import { CustomObjectsApi, KubeConfig, makeInformer } from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';

async function main(): Promise<void> {
  const kubeconfigPath = process.argv[2];
  if (kubeconfigPath === undefined) throw new Error('usage: informer-child.js KUBECONFIG');
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath);
  const api = config.makeApiClient(CustomObjectsApi);
  const started = performance.now();
  const informer = makeInformer<KubernetesObject>(
    config,
    '/apis/kubevirt.io/v1/virtualmachineinstances',
    () =>
      api.listClusterCustomObject({
        group: 'kubevirt.io',
        version: 'v1',
        plural: 'virtualmachineinstances',
      }) as never,
  );
  let failed = false;
  informer.on('error', (error: unknown) => {
    failed = true;
    process.stderr.write(`informer error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
  await informer.start();
  if (!failed) {
    const line = { synced: true, objects: informer.list().length, syncMs: performance.now() - started };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
  // Hold the cache (the watch keeps the process alive too) until the parent kills us (SIGTERM's default action).
  setInterval(() => undefined, 60_000);
}

await main();
