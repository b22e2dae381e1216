// Scale measurements of the VMI source against the fake API server (not a test; numbers for the bench report).
//
//   npx tsc -b packages/status-monitor packages/testkit && node integration/status-monitor/measure-scale.mjs [10000] [100000]
//
// Every measured client runs in its own process (the fake API server in another one), so resident memory is
// the client's alone:
//   ours      KubernetesSource → a map of records per key (what the reconciler keeps)
//   pipeline  KubernetesSource → Reconciler → FileZoneStore (first zone file written = ready)
//   informer  client-node's makeInformer, which caches the full objects
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const [mode = 'all', ...rest] = process.argv.slice(2);

/** A VMI shaped like what KubeVirt 1.x stores (labels, annotations, domain spec, conditions, 3 interfaces). */
function makeVmi(index) {
  const namespace = `tenant-${index % 50}`;
  const name = `vm-${index}`;
  const a = (index >> 8) & 255;
  const b = index & 255;
  return {
    metadata: {
      name,
      namespace,
      labels: { 'kubevirt.io/domain': name, 'kubevirt.io/nodeName': `worker-${index % 20}`, app: 'web' },
      annotations: {
        'kubevirt.io/latest-observed-api-version': 'v1',
        'kubevirt.io/storage-observed-api-version': 'v1',
        'kubevirt.io/vm-generation': '1',
      },
      finalizers: ['kubevirt.io/virtualMachineControllerFinalize', 'foregroundDeleteVirtualMachine'],
      ownerReferences: [
        {
          apiVersion: 'kubevirt.io/v1',
          kind: 'VirtualMachine',
          name,
          uid: `0000-${index}`,
          controller: true,
        },
      ],
    },
    spec: {
      architecture: 'amd64',
      domain: {
        cpu: { cores: 2, model: 'host-model', sockets: 1, threads: 1 },
        devices: {
          disks: [
            { disk: { bus: 'virtio' }, name: 'rootdisk' },
            { disk: { bus: 'virtio' }, name: 'cloudinitdisk' },
          ],
          interfaces: [
            { masquerade: {}, name: 'default' },
            { bridge: {}, name: 'nic1' },
            { bridge: {}, name: 'storage' },
          ],
        },
        firmware: { uuid: `5d5b6b0e-0000-4000-8000-${String(index).padStart(12, '0')}` },
        machine: { type: 'q35' },
        memory: { guest: '2Gi' },
        resources: { requests: { memory: '2Gi' } },
      },
      networks: [
        { name: 'default', pod: {} },
        { name: 'nic1', multus: { networkName: 'br-services' } },
        { name: 'storage', multus: { networkName: 'storage-net' } },
      ],
      volumes: [
        { dataVolume: { name: `${name}-rootdisk` }, name: 'rootdisk' },
        {
          cloudInitNoCloud: {
            userData: '#cloud-config\nuser: fedora\npassword: fedora\nchpasswd: { expire: False }\n',
          },
          name: 'cloudinitdisk',
        },
      ],
    },
    status: {
      phase: 'Running',
      nodeName: `worker-${index % 20}`,
      qosClass: 'Burstable',
      guestOSInfo: {
        id: 'fedora',
        name: 'Fedora Linux',
        version: '40',
        kernelRelease: '6.8.5-301.fc40.x86_64',
      },
      conditions: [
        { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-11-25T10:00:00Z' },
        { type: 'LiveMigratable', status: 'True', lastProbeTime: null, lastTransitionTime: null },
        {
          type: 'AgentConnected',
          status: 'True',
          lastProbeTime: null,
          lastTransitionTime: '2026-11-25T10:00:20Z',
        },
      ],
      interfaces: [
        {
          infoSource: 'domain, guest-agent',
          interfaceName: 'eth0',
          ipAddress: `10.244.${a}.${b}`,
          ipAddresses: [`10.244.${a}.${b}`],
          mac: '52:54:00:00:00:01',
          name: 'default',
          podInterfaceName: 'eth0',
          queueCount: 1,
        },
        {
          infoSource: 'domain, guest-agent, multus-status',
          interfaceName: 'eth1',
          ipAddress: `10.${100 + (index >> 16)}.${a}.${b}`,
          ipAddresses: [
            `10.${100 + (index >> 16)}.${a}.${b}`,
            `2001:db8:${(index >> 16).toString(16)}:${a.toString(16)}::${b.toString(16)}`,
            'fe80::5054:ff:fe00:2',
          ],
          mac: '52:54:00:00:00:02',
          name: 'nic1',
          podInterfaceName: 'pod1234567890a',
          queueCount: 1,
        },
        {
          infoSource: 'domain, guest-agent, multus-status',
          interfaceName: 'eth2',
          ipAddress: `192.168.${a}.${b}`,
          ipAddresses: [`192.168.${a}.${b}`],
          mac: '52:54:00:00:00:03',
          name: 'storage',
          podInterfaceName: 'pod0987654321b',
          queueCount: 1,
        },
      ],
      launcherContainerImageVersion: 'quay.io/kubevirt/virt-launcher:v1.3.0',
      migrationMethod: 'BlockMigration',
      volumeStatus: [
        { name: 'rootdisk', target: 'vda' },
        { name: 'cloudinitdisk', target: 'vdb', size: 1048576 },
      ],
    },
  };
}

function rssMiB() {
  return Math.round(process.memoryUsage().rss / 1048576);
}
function heapMiB() {
  globalThis.gc?.();
  return Math.round(process.memoryUsage().heapUsed / 1048576);
}

async function runServer(count) {
  const { startFakeApiServer } = await import('@zonewright/testkit');
  const server = await startFakeApiServer();
  for (let index = 0; index < count; index++) server.add(makeVmi(index));
  const dir = mkdtempSync(join(tmpdir(), 'zw-measure-'));
  const kubeconfig = await server.writeKubeconfig(dir);
  process.stdout.write(`${JSON.stringify({ kubeconfig, bytes: JSON.stringify(makeVmi(1)).length })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void server.stop().then(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  });
}

async function runClient(kind, kubeconfig, count) {
  const { KubeConfig, makeInformer, CustomObjectsApi } = await import('@kubernetes/client-node');
  const { KubernetesSource } = await import('@zonewright/status-monitor');
  const zone = await import('@zonewright/zone');
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const baseline = { rss: rssMiB(), heap: heapMiB() };
  const cpu = process.cpuUsage();
  const started = performance.now();
  let readyMs;
  let cleanup = async () => undefined;
  if (kind === 'informer') {
    const api = config.makeApiClient(CustomObjectsApi);
    const path = '/apis/kubevirt.io/v1/virtualmachineinstances';
    const informer = makeInformer(config, path, () =>
      api.listClusterCustomObject({ group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances' }),
    );
    await informer.start();
    readyMs = performance.now() - started;
    if (informer.list().length !== count) throw new Error(`informer holds ${informer.list().length}`);
    cleanup = () => informer.stop();
  } else if (kind === 'ours') {
    const entries = new Map();
    let synced;
    const done = new Promise((resolve) => (synced = resolve));
    const handle = {
      upsert: (key, records) => entries.set(key, records),
      remove: (key) => entries.delete(key),
      replaceAll: (all) => {
        entries.clear();
        for (const [key, records] of all) entries.set(key, records);
      },
      markSynced: () => synced(),
      reportError: (error) => console.error(error.message),
      reportHealthy: () => undefined,
    };
    const source = new KubernetesSource({
      handle,
      kubeConfig: config,
      logger: zone.silentLogger,
      origin: 'vm.example.com',
    });
    source.start();
    await done;
    readyMs = performance.now() - started;
    if (entries.size !== count) throw new Error(`source delivered ${entries.size}`);
    cleanup = () => source.stop();
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'zw-measure-zones-'));
    const reconciler = new zone.Reconciler({
      config: zone.defaultZoneConfig('vm.example.com', ['192.0.2.53']),
      store: new zone.FileZoneStore(dir),
      clock: zone.systemClock,
      logger: zone.silentLogger,
    });
    const source = new KubernetesSource({
      handle: reconciler.registerSource('kubevirt'),
      kubeConfig: config,
      logger: zone.silentLogger,
      origin: 'vm.example.com',
    });
    await reconciler.start();
    source.start();
    await reconciler.whenReady();
    readyMs = performance.now() - started;
    const status = reconciler.status();
    if (status.records === undefined || status.records < count)
      throw new Error(`zone has ${status.records} records`);
    cleanup = async () => {
      await source.stop();
      await reconciler.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  const used = process.cpuUsage(cpu);
  const cpuMs = Math.round((used.user + used.system) / 1000);
  const rssAfter = rssMiB();
  const heapAfter = heapMiB();
  const rssSettled = rssMiB();
  process.stdout.write(
    `${JSON.stringify({ kind, count, readyMs: Math.round(readyMs), cpuMs, baselineRssMiB: baseline.rss, rssMiB: rssAfter, rssAfterGcMiB: rssSettled, heapMiB: heapAfter, heapDeltaMiB: heapAfter - baseline.heap })}\n`,
  );
  await cleanup();
  process.exit(0);
}

function run(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--max-old-space-size=4096', self, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').pop()))
        : reject(new Error(`${args.join(' ')} exited ${code}`)),
    );
  });
}

async function main(counts) {
  for (const count of counts) {
    const server = spawn(process.execPath, ['--max-old-space-size=4096', self, 'server', String(count)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const info = await new Promise((resolve) => {
      let out = '';
      server.stdout.on('data', (chunk) => {
        out += chunk;
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
      });
    });
    console.log(`${count} VMIs, ${info.bytes} bytes of JSON each`);
    try {
      for (const kind of ['ours', 'pipeline', 'informer']) {
        for (let round = 0; round < (count >= 100000 ? 1 : 2); round++)
          console.log(JSON.stringify(await run([kind, info.kubeconfig, String(count)])));
      }
    } finally {
      server.stdin.end();
    }
  }
}

if (mode === 'server') await runServer(Number(rest[0]));
else if (mode === 'ours' || mode === 'pipeline' || mode === 'informer')
  await runClient(mode, rest[0], Number(rest[1]));
else await main((mode === 'all' ? ['10000', '100000'] : [mode, ...rest]).map(Number));
