/**
 * Offline checks of everything in deploy/ and corefile/: each kustomization builds with the real
 * `kubectl kustomize`, every object validates against the Kubernetes OpenAPI schema, and the security,
 * RBAC, probe, CLI-flag and Corefile policies of issue 6 hold for the built output.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import type { Dirent } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_RUNTIME_SOCKETS } from '@zonewright/cri-watcher';
import { cliHelp, ensureCliBuilt, flagValue, flagsInArgs, flagsInHelp, helpDefault } from './lib/cli.js';
import { corefileEnvReferences, parseCorefile, portOf } from './lib/corefile.js';
import type { CorefileDirective, CorefileServerBlock } from './lib/corefile.js';
import { buildKustomization, findKustomizations } from './lib/kustomize.js';
import type { KubernetesObject } from './lib/kustomize.js';
import { configMap, containerEnvironment, effectiveSecurity, probePort, workloads } from './lib/pod.js';
import type { Container, PodSpec, Workload } from './lib/pod.js';
import { validateObject } from './lib/schema.js';

const REPO = join(import.meta.dirname, '..', '..');
const kustomizations = findKustomizations(REPO, ['deploy', 'corefile']);
const buildable = kustomizations.filter((entry) => entry.kind === 'Kustomization').map((entry) => entry.dir);
const RUNTIMES = ['containerd', 'k3s', 'crio', 'cri-dockerd'] as const;
const MONITOR_DIRS = [
  'deploy/monitor/base',
  'deploy/monitor/overlays/nodeport',
  'deploy/monitor/overlays/zone-transfer',
];
const NODE_DIRS = RUNTIMES.map((runtime) => `deploy/node/overlays/${runtime}`);
const CLEANUP_DIRS = RUNTIMES.map((runtime) => `deploy/node/cleanup/${runtime}`);
/** Oldest CoreDNS without the silently-truncated-zone bug (CoreDNS issue #6697). */
const MIN_COREDNS: readonly number[] = [1, 11, 4];

const built = new Map<string, KubernetesObject[]>();
const objectsOf = (dir: string): KubernetesObject[] => {
  const objects = built.get(dir);
  if (objects === undefined) throw new Error(`${dir} was not built`);
  return objects;
};
const corefileText = (name: string): string => readFileSync(join(REPO, 'corefile', name), 'utf8');

function onlyWorkload(dir: string, kind: 'Deployment' | 'DaemonSet'): Workload {
  const found = workloads(objectsOf(dir)).filter((workload) => workload.kind === kind);
  expect(found).toHaveLength(1);
  return found[0] as Workload;
}
function container(pod: PodSpec, name: string): Container {
  const found = [...pod.containers, ...(pod.initContainers ?? [])].find(
    (candidate) => candidate.name === name,
  );
  if (found === undefined) throw new Error(`no container ${name}`);
  return found;
}
const isZonewright = (item: Container): boolean => item.image.includes('zonewright');
const isCoreDns = (item: Container): boolean => /(^|\/)coredns(:|$)/.test(item.image.split('@')[0] ?? '');
function directive(
  block: {
    readonly directives?: readonly CorefileDirective[];
    readonly block?: readonly CorefileDirective[];
  },
  name: string,
): CorefileDirective | undefined {
  return (block.directives ?? block.block ?? []).find((candidate) => candidate.name === name);
}

beforeAll(async () => {
  for (const dir of buildable) built.set(dir, await buildKustomization(REPO, dir));
});

describe('kustomize', () => {
  it('finds the expected bases, overlays and cleanups', () => {
    for (const dir of [...MONITOR_DIRS, ...NODE_DIRS, ...CLEANUP_DIRS, 'deploy/node/base', 'corefile']) {
      expect(buildable).toContain(dir);
    }
  });

  it.each(buildable)(
    '%s builds and every object validates against the Kubernetes OpenAPI schema',
    async (dir) => {
      const objects = objectsOf(dir);
      expect(objects.length).toBeGreaterThan(0);
      const problems: string[] = [];
      for (const object of objects) {
        for (const problem of await validateObject(object))
          problems.push(`${object.kind}/${object.metadata.name}: ${problem}`);
      }
      expect(problems).toEqual([]);
    },
  );

  it('the schema check rejects a misspelt field, a wrong type and a missing required field', async () => {
    const deployment = objectsOf('deploy/monitor/base').find((object) => object.kind === 'Deployment');
    const text = JSON.stringify(deployment);
    const misspelt = JSON.parse(
      text.replace('"readOnlyRootFilesystem"', '"readOnlyRootFileSystem"'),
    ) as KubernetesObject;
    const mistyped = JSON.parse(
      text.replace('"containerPort":5353', '"containerPort":"5353"'),
    ) as KubernetesObject;
    const missing = JSON.parse(text.replace('"name":"monitor",', '')) as KubernetesObject;
    expect((await validateObject(misspelt)).join('\n')).toMatch(/unknown field "readOnlyRootFileSystem"/);
    expect((await validateObject(mistyped)).join('\n')).toMatch(/containerPort/);
    expect((await validateObject(missing)).join('\n')).toMatch(/required property name/);
  });

  it('namespaced objects live in the namespace the build creates', () => {
    for (const dir of [...MONITOR_DIRS, ...NODE_DIRS]) {
      const objects = objectsOf(dir);
      const namespaces = objects
        .filter((object) => object.kind === 'Namespace')
        .map((object) => object.metadata.name);
      expect(namespaces).toHaveLength(1);
      for (const object of objects) {
        if (['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(object.kind)) continue;
        expect(`${object.kind}/${object.metadata.name} in ${String(object.metadata.namespace)}`).toBe(
          `${object.kind}/${object.metadata.name} in ${String(namespaces[0])}`,
        );
      }
    }
  });
});

describe('monitor', () => {
  it('has RBAC of get/list/watch on virtualmachineinstances and nothing more', () => {
    for (const dir of MONITOR_DIRS) {
      const objects = objectsOf(dir);
      const deployment = onlyWorkload(dir, 'Deployment');
      const namespace = deployment.metadata.namespace;
      const roles = objects.filter((object) => object.kind === 'ClusterRole' || object.kind === 'Role');
      expect(roles).toHaveLength(1);
      const role = roles[0] as KubernetesObject & {
        rules: {
          apiGroups: string[];
          resources: string[];
          verbs: string[];
          resourceNames?: string[];
          nonResourceURLs?: string[];
        }[];
      };
      expect(role.kind).toBe('ClusterRole');
      expect(role.rules).toHaveLength(1);
      const rule = role.rules[0];
      expect(rule?.apiGroups).toEqual(['kubevirt.io']);
      expect(rule?.resources).toEqual(['virtualmachineinstances']);
      expect([...(rule?.verbs ?? [])].sort()).toEqual(['get', 'list', 'watch']);
      expect(Object.keys(rule ?? {}).sort()).toEqual(['apiGroups', 'resources', 'verbs']);
      const bindings = objects.filter(
        (object) => object.kind === 'ClusterRoleBinding' || object.kind === 'RoleBinding',
      );
      expect(bindings).toHaveLength(1);
      const binding = bindings[0] as KubernetesObject & {
        roleRef: { kind: string; name: string };
        subjects: { kind: string; name: string; namespace?: string }[];
      };
      expect(binding.roleRef).toMatchObject({ kind: 'ClusterRole', name: role.metadata.name });
      expect(binding.subjects).toEqual([
        { kind: 'ServiceAccount', name: deployment.spec.template.spec.serviceAccountName, namespace },
      ]);
      const accounts = objects.filter((object) => object.kind === 'ServiceAccount');
      expect(accounts.map((account) => `${account.metadata.namespace}/${account.metadata.name}`)).toEqual([
        `${namespace}/${deployment.spec.template.spec.serviceAccountName}`,
      ]);
    }
  });

  it('runs 2 replicas, each pod with its own emptyDir /zones shared by monitor and CoreDNS, and a PDB', () => {
    for (const dir of MONITOR_DIRS) {
      const deployment = onlyWorkload(dir, 'Deployment');
      const pod = deployment.spec.template.spec;
      expect(deployment.spec.replicas).toBe(2);
      const zones = pod.volumes?.find((volume) => volume.name === 'zones');
      expect(zones?.emptyDir).toBeDefined();
      const monitor = pod.containers.find((item) => isZonewright(item));
      const coredns = pod.containers.find(isCoreDns);
      expect(monitor?.args?.[0]).toBe('monitor');
      expect(monitor?.volumeMounts).toContainEqual({ name: 'zones', mountPath: '/zones' });
      expect(flagValue(monitor?.args ?? [], 'zones-dir')).toBe('/zones');
      expect(coredns?.volumeMounts).toContainEqual({ name: 'zones', mountPath: '/zones', readOnly: true });
      const pdbs = objectsOf(dir).filter(
        (object) => object.kind === 'PodDisruptionBudget',
      ) as (KubernetesObject & {
        spec: { minAvailable?: number; selector: { matchLabels: Record<string, string> } };
      })[];
      expect(pdbs).toHaveLength(1);
      expect(pdbs[0]?.spec.minAvailable).toBe(1);
      expect(deployment.spec.template.metadata?.labels).toMatchObject(
        pdbs[0]?.spec.selector.matchLabels ?? { missing: 'selector' },
      );
    }
  });

  it('exposes DNS on 5353 UDP and TCP through a Service that reaches CoreDNS, NodePort 31111 in the overlay', () => {
    for (const dir of MONITOR_DIRS) {
      const deployment = onlyWorkload(dir, 'Deployment');
      const coredns = deployment.spec.template.spec.containers.find(isCoreDns);
      const services = objectsOf(dir).filter((object) => object.kind === 'Service') as (KubernetesObject & {
        spec: {
          type: string;
          selector: Record<string, string>;
          ports: { port: number; protocol: string; targetPort: string | number; nodePort?: number }[];
        };
      })[];
      expect(services).toHaveLength(1);
      const service = services[0];
      expect(deployment.spec.template.metadata?.labels).toMatchObject(
        service?.spec.selector ?? { missing: 'selector' },
      );
      const ports = service?.spec.ports ?? [];
      expect(ports.map((port) => `${port.port}/${port.protocol}`).sort()).toEqual(['5353/TCP', '5353/UDP']);
      for (const port of ports) {
        const target = coredns?.ports?.find((candidate) =>
          typeof port.targetPort === 'number'
            ? candidate.containerPort === port.targetPort
            : candidate.name === port.targetPort,
        );
        expect(target).toMatchObject({ containerPort: 5353, protocol: port.protocol });
        if (dir.endsWith('nodeport')) expect(port.nodePort).toBe(31111);
        else expect(port.nodePort).toBeUndefined();
      }
      expect(service?.spec.type).toBe(dir.endsWith('nodeport') ? 'NodePort' : 'ClusterIP');
    }
  });

  it('has a NetworkPolicy that selects the monitor pods and lets DNS in over UDP and TCP', () => {
    for (const dir of MONITOR_DIRS) {
      const deployment = onlyWorkload(dir, 'Deployment');
      const policies = objectsOf(dir).filter(
        (object) => object.kind === 'NetworkPolicy',
      ) as (KubernetesObject & {
        spec: {
          podSelector: { matchLabels?: Record<string, string> };
          ingress: { from?: unknown[]; ports: { port: number; protocol: string }[] }[];
        };
      })[];
      expect(policies).toHaveLength(1);
      const policy = policies[0];
      expect(Object.keys(policy?.spec.podSelector.matchLabels ?? {}).length).toBeGreaterThan(0);
      expect(deployment.spec.template.metadata?.labels).toMatchObject(
        policy?.spec.podSelector.matchLabels ?? {},
      );
      const open = (policy?.spec.ingress ?? []).filter((rule) => rule.from === undefined);
      const dnsPorts = open.flatMap((rule) => rule.ports.map((port) => `${port.port}/${port.protocol}`));
      expect(dnsPorts.sort()).toEqual(['5353/TCP', '5353/UDP']);
    }
  });
});

describe('node', () => {
  it.each(NODE_DIRS)('%s: hostNetwork DaemonSet on smarter.cri nodes, no API token, no RBAC', (dir) => {
    const runtime = dir.split('/').pop() ?? '';
    const daemonSet = onlyWorkload(dir, 'DaemonSet');
    const pod = daemonSet.spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBeUndefined();
    expect(pod.nodeSelector?.['smarter.cri']).toBe(runtime);
    const kinds = objectsOf(dir).map((object) => object.kind);
    for (const kind of [
      'ServiceAccount',
      'Role',
      'ClusterRole',
      'RoleBinding',
      'ClusterRoleBinding',
      'Secret',
    ])
      expect(kinds).not.toContain(kind);
    // The redirect first, then the first complete zone, and only then CoreDNS (docs/adr/0010).
    expect(pod.initContainers?.map((item) => item.name)).toEqual(['node-setup', 'first-zone']);
    expect(pod.initContainers?.[0]?.args?.slice(0, 2)).toEqual(['node-setup', 'install']);
    expect(pod.initContainers?.[1]?.args?.slice(0, 2)).toEqual(['cri-watch', '--once']);
    expect(container(pod, 'first-zone').volumeMounts).toContainEqual({ name: 'zones', mountPath: '/zones' });
    const names = pod.containers.map((item) => item.name).sort();
    expect(names).toEqual(['coredns', 'cri-watcher']);
    const zones = pod.volumes?.find((volume) => volume.name === 'zones');
    expect(zones?.emptyDir).toBeDefined();
    expect(container(pod, 'cri-watcher').volumeMounts).toContainEqual({ name: 'zones', mountPath: '/zones' });
    expect(container(pod, 'coredns').volumeMounts).toContainEqual({
      name: 'zones',
      mountPath: '/zones',
      readOnly: true,
    });
  });

  it.each(NODE_DIRS)(
    "%s: the CRI socket that CRI_DIR + CRI_FILE name is the runtime's, mounted read-only",
    (dir) => {
      const runtime = dir.split('/').pop() ?? '';
      const objects = objectsOf(dir);
      const pod = onlyWorkload(dir, 'DaemonSet').spec.template.spec;
      const watcher = container(pod, 'cri-watcher');
      const env = containerEnvironment(watcher, objects);
      const criDir = (env.get('CRI_DIR') ?? '').replace(/^unix:\/\//, '');
      const socketInPod = `${criDir.replace(/\/+$/, '')}/${env.get('CRI_FILE') ?? ''}`;
      const mount = (watcher.volumeMounts ?? []).find(
        (candidate) =>
          socketInPod === candidate.mountPath || socketInPod.startsWith(`${candidate.mountPath}/`),
      );
      expect(mount?.readOnly).toBe(true);
      const volume = pod.volumes?.find((candidate) => candidate.name === mount?.name);
      const hostSocket = `${volume?.hostPath?.path ?? '(not a hostPath)'}${socketInPod.slice(mount?.mountPath.length ?? 0)}`;
      const known = DEFAULT_RUNTIME_SOCKETS.find(
        (entry) => entry.runtime === (runtime === 'crio' ? 'cri-o' : runtime),
      );
      const normalise = (path: string): string => path.replace(/^\/var\/run\//, '/run/');
      expect(normalise(hostSocket)).toBe(normalise(known?.path ?? '(unknown runtime)'));
      // The first-zone init container (cri-watch --once) mounts it the same way; no other container sees it.
      const firstZone = container(pod, 'first-zone');
      expect(firstZone.volumeMounts?.find((item) => item.name === mount?.name)).toEqual(mount);
      for (const other of [...pod.containers, ...(pod.initContainers ?? [])].filter(
        (item) => item !== watcher && item !== firstZone,
      )) {
        expect((other.volumeMounts ?? []).map((item) => item.name)).not.toContain(mount?.name);
      }
    },
  );

  it.each(NODE_DIRS)('%s: the settings ConfigMap carries the smarter-compatible keys', (dir) => {
    const pod = onlyWorkload(dir, 'DaemonSet').spec.template.spec;
    const env = containerEnvironment(container(pod, 'node-setup'), objectsOf(dir));
    for (const key of ['CLUSTER_DNS', 'CNI_SUBNET', 'CNI_GATEWAY', 'CRI_DIR', 'CRI_FILE', 'CLUSTER_DOMAIN']) {
      expect(env.get(key)).toEqual(expect.stringMatching(/\S/));
    }
    expect(env.get('CLUSTER_DNS')).toBe('169.254.0.2');
    expect(env.get('CNI_SUBNET')).toBe('172.38.0.0/16');
    expect(env.get('CNI_GATEWAY')).toBe('172.38.0.1');
  });

  it.each(CLEANUP_DIRS)('%s: runs node-setup remove with the same settings as the install', (dir) => {
    const runtime = dir.split('/').pop() ?? '';
    const install = onlyWorkload(`deploy/node/overlays/${runtime}`, 'DaemonSet');
    const cleanup = onlyWorkload(dir, 'DaemonSet');
    expect(cleanup.metadata.name).toBe(install.metadata.name);
    const installArgs = install.spec.template.spec.initContainers?.[0]?.args ?? [];
    const cleanupArgs = cleanup.spec.template.spec.initContainers?.[0]?.args ?? [];
    expect(cleanupArgs).toEqual(['node-setup', 'remove', ...installArgs.slice(2)]);
    expect(cleanup.spec.template.spec.initContainers?.[0]?.volumeMounts).toEqual(
      install.spec.template.spec.initContainers?.[0]?.volumeMounts,
    );
    expect(cleanup.spec.template.spec.containers.map((item) => item.image)).toEqual([
      expect.stringMatching(/pause/),
    ]);
  });
});

describe('every container', () => {
  const allBuilt = (): [string, Workload, Container, boolean][] =>
    buildable.flatMap((dir) =>
      workloads(objectsOf(dir)).flatMap((workload) => [
        ...workload.spec.template.spec.containers.map((item): [string, Workload, Container, boolean] => [
          dir,
          workload,
          item,
          false,
        ]),
        ...(workload.spec.template.spec.initContainers ?? []).map(
          (item): [string, Workload, Container, boolean] => [dir, workload, item, true],
        ),
      ]),
    );

  it('has cpu and memory requests and limits', () => {
    for (const [dir, , item] of allBuilt()) {
      for (const kind of ['requests', 'limits'] as const) {
        expect(
          `${dir} ${item.name} ${kind}: ${Object.keys(item.resources?.[kind] ?? {})
            .sort()
            .join(',')}`,
        ).toBe(`${dir} ${item.name} ${kind}: cpu,memory`);
      }
    }
  });

  it('is non-root with a read-only root filesystem and no capabilities, except node-setup', () => {
    for (const [dir, workload, item] of allBuilt()) {
      const security = effectiveSecurity(workload.spec.template.spec, item);
      const where = `${dir} ${item.name}`;
      expect(`${where} readOnlyRootFilesystem=${String(security.readOnlyRootFilesystem)}`).toBe(
        `${where} readOnlyRootFilesystem=true`,
      );
      expect(`${where} allowPrivilegeEscalation=${String(security.allowPrivilegeEscalation)}`).toBe(
        `${where} allowPrivilegeEscalation=false`,
      );
      expect(`${where} privileged=${String(security.privileged ?? false)}`).toBe(`${where} privileged=false`);
      expect(security.capabilities?.drop).toEqual(['ALL']);
      if (item.name === 'node-setup') {
        expect([...(security.capabilities?.add ?? [])].sort()).toEqual(['NET_ADMIN', 'NET_RAW']);
        continue;
      }
      expect(`${where} add=${(security.capabilities?.add ?? []).join(',')}`).toBe(`${where} add=`);
      expect(`${where} runAsNonRoot=${String(security.runAsNonRoot)}`).toBe(`${where} runAsNonRoot=true`);
      expect(security.runAsUser).not.toBe(0);
    }
  });

  it('runs pinned images; CoreDNS is at least 1.11.4', () => {
    for (const [dir, , item] of allBuilt()) {
      const tag = /:([^:/]+)$/.exec(item.image)?.[1];
      expect(`${dir} ${item.name} ${item.image}`).not.toMatch(/:latest$/);
      expect(tag).toBeDefined();
      if (isCoreDns(item)) {
        const version = (tag ?? '').replace(/^v/, '').split('.').map(Number);
        const atLeast = MIN_COREDNS.findIndex((part, index) => (version[index] ?? 0) !== part);
        expect(atLeast === -1 || (version[atLeast] ?? 0) > (MIN_COREDNS[atLeast] ?? 0)).toBe(true);
      }
    }
  });
});

describe('probes and Corefiles', () => {
  const corefiles: Record<string, string> = {
    'deploy/monitor': 'Corefile.monitor',
    'deploy/node': 'Corefile.node',
  };
  const corefileFor = (dir: string): string =>
    corefiles[Object.keys(corefiles).find((prefix) => dir.startsWith(prefix)) ?? ''] ?? '';

  it('ConfigMap Corefiles are byte-for-byte the files in corefile/, mounted where CoreDNS reads them', () => {
    for (const dir of [...MONITOR_DIRS, ...NODE_DIRS]) {
      const objects = objectsOf(dir);
      for (const workload of workloads(objects)) {
        const pod = workload.spec.template.spec;
        const coredns = pod.containers.find(isCoreDns);
        expect(coredns?.args?.[0]).toBe('-conf');
        const confPath = coredns?.args?.[1] ?? '';
        const mount = coredns?.volumeMounts?.find((candidate) =>
          confPath.startsWith(`${candidate.mountPath}/`),
        );
        const volume = pod.volumes?.find((candidate) => candidate.name === mount?.name);
        const data = configMap(objects, volume?.configMap?.name ?? '(no ConfigMap volume)').data ?? {};
        const key = confPath.slice((mount?.mountPath.length ?? 0) + 1);
        expect(data[key]).toBe(corefileText(corefileFor(dir)));
      }
      // Exactly one Corefile ConfigMap: the other component's is removed from this build.
      const corefileMaps = objects.filter(
        (object) => object.kind === 'ConfigMap' && 'Corefile' in ((object as { data?: object }).data ?? {}),
      );
      expect(corefileMaps).toHaveLength(1);
    }
  });

  it.each(['Corefile.monitor', 'Corefile.node'])(
    '%s: auto with an anchored pattern, a short reload, health and ready',
    (name) => {
      const servers = parseCorefile(corefileText(name));
      const zoneServer = servers.find(
        (server) => directive(server, 'auto') !== undefined,
      ) as CorefileServerBlock;
      const auto = directive(zoneServer, 'auto');
      expect(directive(auto ?? {}, 'directory')?.args).toEqual(['/zones', '^db\\.(.*)$', '{1}']);
      const reload = directive(auto ?? {}, 'reload')?.args[0] ?? '';
      expect(reload).toMatch(/^\d+(ms|s)$/);
      const seconds = reload.endsWith('ms')
        ? Number.parseInt(reload, 10) / 1000
        : Number.parseInt(reload, 10);
      expect(seconds).toBeGreaterThan(0);
      expect(seconds).toBeLessThanOrEqual(5);
      expect(directive(zoneServer, 'health')).toBeDefined();
      expect(directive(zoneServer, 'ready')).toBeDefined();
      expect(directive(zoneServer, 'errors')).toBeDefined();
      // `cache` would delay zone changes; it may only serve the forwarding block.
      expect(directive(zoneServer, 'cache')).toBeUndefined();
    },
  );

  it('every {$VAR} of the node Corefile is set in the CoreDNS container', () => {
    const references = corefileEnvReferences(corefileText('Corefile.node'));
    expect(references.length).toBeGreaterThan(0);
    expect(corefileEnvReferences(corefileText('Corefile.monitor'))).toEqual([]);
    for (const dir of NODE_DIRS) {
      const pod = onlyWorkload(dir, 'DaemonSet').spec.template.spec;
      const env = containerEnvironment(container(pod, 'coredns'), objectsOf(dir));
      for (const name of references) expect(`${name}=${env.get(name) ?? ''}`).toMatch(/=\S+$/);
    }
  });

  it('CoreDNS probes and ports match the Corefile listeners', () => {
    for (const dir of [...MONITOR_DIRS, ...NODE_DIRS]) {
      for (const workload of workloads(objectsOf(dir))) {
        const pod = workload.spec.template.spec;
        const coredns = pod.containers.find(isCoreDns) as Container;
        const env = containerEnvironment(coredns, objectsOf(dir));
        const text = corefileText(corefileFor(dir)).replace(
          /\{\$([A-Za-z0-9_]+)\}/g,
          (whole, name: string) => env.get(name) ?? whole,
        );
        const servers = parseCorefile(text);
        const zoneServer = servers.find(
          (server) => directive(server, 'auto') !== undefined,
        ) as CorefileServerBlock;
        const health = portOf(directive(zoneServer, 'health')?.args[0] ?? '');
        const ready = portOf(directive(zoneServer, 'ready')?.args[0] ?? '');
        expect(coredns.livenessProbe?.httpGet?.path).toBe('/health');
        expect(probePort(coredns, coredns.livenessProbe?.httpGet?.port ?? '')).toBe(health);
        expect(coredns.readinessProbe?.httpGet?.path).toBe('/ready');
        expect(probePort(coredns, coredns.readinessProbe?.httpGet?.port ?? '')).toBe(ready);
        for (const server of servers) {
          const port = portOf(server.keys[0] ?? '');
          for (const protocol of ['UDP', 'TCP']) {
            expect(coredns.ports).toContainEqual(expect.objectContaining({ containerPort: port, protocol }));
          }
        }
      }
    }
  });
});

describe('zonewright containers against the real CLI', () => {
  const helps = new Map<string, string>();
  const helpFor = async (command: readonly string[]): Promise<string> => {
    const key = command.join(' ');
    const cached = helps.get(key);
    if (cached !== undefined) return cached;
    const help = await cliHelp(REPO, command);
    helps.set(key, help);
    return help;
  };
  const commandOf = (item: Container): string[] => {
    const args = item.args ?? [];
    return args[0] === 'node-setup' ? args.slice(0, 2) : args.slice(0, 1);
  };
  const zonewrightContainers = (): [string, Container][] =>
    buildable.flatMap((dir) =>
      workloads(objectsOf(dir)).flatMap((workload) =>
        [...workload.spec.template.spec.containers, ...(workload.spec.template.spec.initContainers ?? [])]
          .filter(isZonewright)
          .map((item): [string, Container] => [dir, item]),
      ),
    );
  /** String literals in the non-test sources of the CLI and the packages it runs. */
  const sourceText = (): string =>
    ['cli', 'zone', 'status-monitor', 'cri-watcher', 'node-setup']
      .map((name) => join(REPO, 'packages', name, 'src'))
      .flatMap((dir) => {
        try {
          return readdirRecursive(dir).filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));
        } catch {
          return [];
        }
      })
      // comments dropped: only code that reads a name counts
      .map((file) =>
        readFileSync(file, 'utf8')
          .replace(/\/\*[\s\S]*?\*\//g, '')
          .replace(/^\s*\/\/.*$/gm, ''),
      )
      .join('\n');

  beforeAll(async () => {
    await ensureCliBuilt(REPO);
  });

  it('uses only commands and flags the CLI declares', async () => {
    const problems: string[] = [];
    for (const [dir, item] of zonewrightContainers()) {
      const command = commandOf(item);
      const flags = flagsInHelp(await helpFor(command));
      for (const flag of flagsInArgs(item.args ?? [])) {
        if (!flags.has(flag))
          problems.push(`${dir} ${item.name}: zonewright ${command.join(' ')} has no --${flag}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('sets only environment variables some program of the pod reads, and every $(VAR) in args is set', async () => {
    const sources = sourceText();
    const corefileNames = new Set(corefileEnvReferences(corefileText('Corefile.node')));
    const problems: string[] = [];
    for (const dir of [...MONITOR_DIRS, ...NODE_DIRS]) {
      for (const workload of workloads(objectsOf(dir))) {
        const pod = workload.spec.template.spec;
        const all = [...pod.containers, ...(pod.initContainers ?? [])];
        const podArgs = all.flatMap((item) => item.args ?? []);
        for (const item of all.filter((candidate) => isZonewright(candidate) || isCoreDns(candidate))) {
          const env = containerEnvironment(item, objectsOf(dir));
          for (const arg of item.args ?? []) {
            for (const match of arg.matchAll(/\$\(([A-Za-z0-9_]+)\)/g)) {
              if (!env.has(match[1] ?? ''))
                problems.push(`${dir} ${item.name}: $(${String(match[1])}) is not set`);
            }
          }
          const flags = isZonewright(item) ? flagsInHelp(await helpFor(commandOf(item))) : new Set<string>();
          for (const name of env.keys()) {
            if (podArgs.some((arg) => arg.includes(`$(${name})`))) continue;
            if (isCoreDns(item) && corefileNames.has(name)) continue;
            if (name.startsWith('ZONEWRIGHT_') && isZonewright(item)) {
              const flag = name.slice('ZONEWRIGHT_'.length).toLowerCase().replaceAll('_', '-');
              if (!flags.has(flag)) problems.push(`${dir} ${item.name}: ${name} matches no flag --${flag}`);
            } else if (!new RegExp(`['"\`]${name}['"\`]|\\.${name}\\b`).test(sources)) {
              problems.push(`${dir} ${item.name}: no program reads ${name}`);
            }
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('probes /healthz and /readyz on the port the program listens on', async () => {
    for (const [dir, item] of zonewrightContainers()) {
      // init containers (node-setup, cri-watch --once): run to completion, no probes
      if (item.args?.[0] === 'node-setup' || item.args?.includes('--once')) continue;
      const listen =
        flagValue(item.args ?? [], 'listen') ?? helpDefault(await helpFor(commandOf(item)), 'listen') ?? '';
      const port = portOf(listen);
      expect(`${dir} ${item.name} listen ${listen}`).toMatch(/:\d+$/);
      expect(item.livenessProbe?.httpGet?.path).toBe('/healthz');
      expect(item.readinessProbe?.httpGet?.path).toBe('/readyz');
      expect(probePort(item, item.livenessProbe?.httpGet?.port ?? '')).toBe(port);
      expect(probePort(item, item.readinessProbe?.httpGet?.port ?? '')).toBe(port);
    }
  });
});

function readdirRecursive(dir: string): string[] {
  const entries: Dirent[] = readdirSync(dir, { withFileTypes: true });
  return entries.flatMap((entry) =>
    entry.isDirectory() ? readdirRecursive(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}
