// The VMI path through a REAL kube-apiserver (testkit startKubeApiServer: v1.20.2 + etcd on loopback): the VMI
// CRD, the monitor's RBAC objects from deploy/monitor/base applied with kubectl, and a kubeconfig holding only
// the CA and a TokenRequest token of the monitor's ServiceAccount, as in a cluster.
import path from 'node:path';
import { installVmiCrd, kubeApiServerAvailability, startKubeApiServer } from '@zonewright/testkit';
import type { FakeObject, KubeApiServer } from '@zonewright/testkit';
import { repoRoot } from '../common/paths.js';
import type { VmiApi } from './vmi-api.js';

const MONITOR_NAMESPACE = 'zonewright-monitor';
const MONITOR_SERVICE_ACCOUNT = 'zonewright-monitor';
/** The files of deploy/monitor/base that grant the monitor its access (the kustomization puts them in its namespace). */
const RBAC_FILES = ['namespace.yaml', 'serviceaccount.yaml', 'clusterrole.yaml', 'clusterrolebinding.yaml'];

/** Whether a kube-apiserver binary is there (built by scripts/build-kube-apiserver.sh), and if not, why. */
export function kubeApiServerReason(): string | undefined {
  const availability = kubeApiServerAvailability();
  return availability.available ? undefined : availability.reason;
}

interface Named {
  readonly name: string;
  readonly namespace: string;
}

function nameOf(object: FakeObject): Named {
  const name = object.metadata?.name;
  const namespace = object.metadata?.namespace ?? 'default';
  if (name === undefined) throw new Error('a VMI without metadata.name');
  return { name, namespace };
}

const vmiPath = ({ namespace, name }: Named, withName: boolean): string =>
  `/apis/kubevirt.io/v1/namespaces/${namespace}/virtualmachineinstances${withName ? `/${name}` : ''}`;

/** What an update must carry from the stored object: its uid (ours are made up) and resourceVersion. */
interface Stored {
  readonly uid: string;
  readonly resourceVersion: string;
}

function storedOf(body: unknown): Stored {
  const metadata = (body as { metadata?: { uid?: unknown; resourceVersion?: unknown } } | undefined)
    ?.metadata;
  const { uid, resourceVersion } = metadata ?? {};
  if (typeof uid !== 'string' || typeof resourceVersion !== 'string')
    throw new Error('the API server answered an object without uid or resourceVersion');
  return { uid, resourceVersion };
}

async function applyMonitorRbac(api: KubeApiServer): Promise<void> {
  const files = RBAC_FILES.flatMap((file) => ['-f', path.join(repoRoot, 'deploy/monitor/base', file)]);
  const applied = await api.kubectl(['apply', '-n', MONITOR_NAMESPACE, ...files]);
  if (applied.code !== 0) throw new Error(`kubectl apply of the monitor's RBAC failed:\n${applied.stderr}`);
}

/** POSTs `objects`, `parallel` at a time; returns each one's resourceVersion by namespace/name. */
async function createAll(
  api: KubeApiServer,
  objects: readonly FakeObject[],
  parallel: number,
): Promise<Map<string, Stored>> {
  const versions = new Map<string, Stored>();
  const namespaces = [...new Set(objects.map((object) => nameOf(object).namespace))];
  for (const namespace of namespaces) {
    const existing = await api.request('GET', `/api/v1/namespaces/${namespace}`);
    if (existing.status === 404)
      await api.call('POST', '/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: namespace },
      });
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < objects.length) {
        const object = objects[next++];
        if (object === undefined) continue;
        const named = nameOf(object);
        const created = await api.call('POST', vmiPath(named, false), object);
        versions.set(`${named.namespace}/${named.name}`, storedOf(created));
      }
    }),
  );
  return versions;
}

export async function kubeVmiApi(directory: string): Promise<VmiApi> {
  // --watch-cache=false: watches read etcd, so compacted history answers 410 (how a 410 is made on purpose).
  const api = await startKubeApiServer({ watchCache: false });
  try {
    await installVmiCrd(api);
    await applyMonitorRbac(api);
    const token = await api.serviceAccountToken(MONITOR_NAMESPACE, MONITOR_SERVICE_ACCOUNT);
    const kubeconfig = await api.writeKubeconfig(path.join(directory, 'monitor.kubeconfig'), token);
    let versions = new Map<string, Stored>();
    return {
      label:
        'real kube-apiserver v1.20.2 (--watch-cache=false), RBAC of deploy/monitor/base, TokenRequest token',
      kubeconfig,
      async create(objects) {
        versions = new Map([...versions, ...(await createAll(api, objects, 8))]);
      },
      async modify(object) {
        const named = nameOf(object);
        const key = `${named.namespace}/${named.name}`;
        const stored = versions.get(key);
        if (stored === undefined) throw new Error(`VMI ${key} was not created by this run`);
        const metadata = { ...object.metadata, ...stored };
        const replaced = await api.call('PUT', vmiPath(named, true), { ...object, metadata });
        versions.set(key, storedOf(replaced));
      },
      async restart(downMs) {
        return (await api.restart({ graceMs: 2000, downMs })).downMs;
      },
      async expireHistory(downMs) {
        // Writes the monitor does not watch, so its position is behind the compacted revision, then compaction.
        for (let index = 0; index < 3; index++) {
          await api.call('POST', `/api/v1/namespaces/${MONITOR_NAMESPACE}/configmaps`, {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { generateName: 'zw-bench-filler-' },
            data: { index: String(index) },
          });
        }
        await api.compact();
        return (await api.restart({ graceMs: 2000, downMs })).downMs;
      },
      stop: () => api.stop(),
    };
  } catch (error) {
    await api.stop();
    throw error;
  }
}
