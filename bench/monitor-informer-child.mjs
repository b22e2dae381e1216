// The reference for the StatusMonitor memory target: @kubernetes/client-node's default informer (`makeInformer`
// with an unpaged list, as its README shows) on the same VMI path, in its own process. It prints one JSON line
// once the informer has listed and started watching, then keeps the cache until it is killed; bench/monitor.mjs
// reads its RSS from /proc. Usage: node monitor-informer-child.mjs KUBECONFIG
import { performance } from 'node:perf_hooks';
import { setInterval } from 'node:timers';
import { CustomObjectsApi, KubeConfig, makeInformer } from '@kubernetes/client-node';

const kubeconfigPath = process.argv[2];
if (kubeconfigPath === undefined) throw new Error('usage: monitor-informer-child.mjs KUBECONFIG');

const config = new KubeConfig();
config.loadFromFile(kubeconfigPath);
const api = config.makeApiClient(CustomObjectsApi);
const started = performance.now();
const informer = makeInformer(config, '/apis/kubevirt.io/v1/virtualmachineinstances', () =>
  api.listClusterCustomObject({ group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances' }),
);
let failed = false;
informer.on('error', (error) => {
  failed = true;
  process.stderr.write(`informer error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
await informer.start();
if (!failed) {
  process.stdout.write(
    `${JSON.stringify({ synced: true, objects: informer.list().length, syncMs: performance.now() - started })}\n`,
  );
}
// Hold the cache (the watch keeps the process alive too) until the parent kills us (SIGTERM's default action).
setInterval(() => undefined, 60_000);
