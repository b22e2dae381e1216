// VMIs: realistic KubeVirt objects (shape of `kubectl get vmi -o json` for a running Fedora VM with a Multus NIC,
// managedFields left out), ~3 KB of JSON each. VMI i is vm-<i> in ns-<i mod 50>; its nic1 address encodes i and a
// generation so every update really changes the zone. VMI 0 is the marker of the load test: its address encodes
// a counter instead.
import type { FakeObject } from '@zonewright/testkit';

export const namespaceOf = (index: number): string => `ns-${index % 50}`;
/** The owner name (relative to the origin) of VMI i's nic1 record. */
export const ownerOf = (index: number): string => `nic1.vm-${index}.${namespaceOf(index)}`;

export function vmiAddress(index: number, generation: number): string {
  return `10.${(generation % 50) * 5 + Math.floor(index / 62_500)}.${Math.floor(index / 250) % 250}.${(index % 250) + 1}`;
}

export const markerAddress = (counter: number): string =>
  `10.254.${Math.floor(counter / 250) % 250}.${(counter % 250) + 1}`;

export function markerCounterOf(address: string | undefined): number | undefined {
  const parts = address?.split('.').map(Number);
  if (parts?.length !== 4 || parts[0] !== 10 || parts[1] !== 254) return undefined;
  return (parts[2] ?? 0) * 250 + (parts[3] ?? 0) - 1;
}

const hex = (value: number, width: number): string => value.toString(16).padStart(width, '0').slice(-width);

function fakeUid(index: number, salt: number): string {
  return `${hex(index * 2654435761 + salt, 8)}-${hex(index, 4)}-4${hex(salt, 3)}-8${hex(index >> 4, 3)}-${hex(index * 40503 + salt, 12)}`;
}

function mac(index: number, nic: number): string {
  return `02:${hex(nic, 2)}:${hex(index >> 16, 2)}:${hex(index >> 8, 2)}:${hex(index, 2)}:${hex(nic * 7, 2)}`;
}

export function vmiObject(index: number, address: string): FakeObject {
  const name = `vm-${index}`;
  const namespace = namespaceOf(index);
  const node = `worker-${index % 40}`;
  const vmUid = fakeUid(index, 1);
  const podIp = `10.244.${Math.floor(index / 250) % 250}.${(index % 250) + 1}`;
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: {
      name,
      namespace,
      uid: fakeUid(index, 2),
      generation: 12,
      labels: {
        'kubevirt.io/domain': name,
        'kubevirt.io/nodeName': node,
        'kubevirt.io/size': 'small',
        'vm.kubevirt.io/name': name,
      },
      annotations: {
        'kubevirt.io/latest-observed-api-version': 'v1',
        'kubevirt.io/storage-observed-api-version': 'v1',
        'kubevirt.io/vm-generation': '1',
        'k8s.v1.cni.cncf.io/networks': '[{"name":"secondary","namespace":"' + namespace + '"}]',
      },
      finalizers: ['kubevirt.io/virtualMachineControllerFinalize', 'foregroundDeleteVirtualMachine'],
      ownerReferences: [
        {
          apiVersion: 'kubevirt.io/v1',
          blockOwnerDeletion: true,
          controller: true,
          kind: 'VirtualMachine',
          name,
          uid: vmUid,
        },
      ],
    },
    spec: {
      architecture: 'amd64',
      domain: {
        cpu: { cores: 1, model: 'host-model', sockets: 1, threads: 1 },
        devices: {
          disks: [
            { disk: { bus: 'virtio' }, name: 'containerdisk' },
            { disk: { bus: 'virtio' }, name: 'cloudinitdisk' },
          ],
          interfaces: [
            { macAddress: mac(index, 0), masquerade: {}, name: 'default' },
            { bridge: {}, macAddress: mac(index, 1), name: 'nic1' },
          ],
        },
        features: { acpi: { enabled: true } },
        firmware: { uuid: fakeUid(index, 3) },
        machine: { type: 'q35' },
        memory: { guest: '1Gi' },
        resources: { requests: { memory: '1Gi' } },
      },
      evictionStrategy: 'None',
      networks: [
        { name: 'default', pod: {} },
        { name: 'nic1', multus: { networkName: 'secondary' } },
      ],
      terminationGracePeriodSeconds: 180,
      volumes: [
        {
          containerDisk: { image: 'quay.io/containerdisks/fedora:40', imagePullPolicy: 'IfNotPresent' },
          name: 'containerdisk',
        },
        {
          cloudInitNoCloud: {
            userData:
              '#cloud-config\nuser: fedora\npassword: fedora\nchpasswd: { expire: False }\nssh_authorized_keys:\n' +
              '  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8m1bench0zonewright0key0material0padding0xyz bench@zonewright\n',
          },
          name: 'cloudinitdisk',
        },
      ],
    },
    status: {
      activePods: { [fakeUid(index, 4)]: node },
      conditions: [
        { lastProbeTime: null, lastTransitionTime: '2026-11-25T08:00:12Z', status: 'True', type: 'Ready' },
        {
          lastProbeTime: null,
          lastTransitionTime: null,
          message: 'cannot migrate VMI which does not use masquerade to connect to the pod network',
          reason: 'InterfaceNotLiveMigratable',
          status: 'False',
          type: 'LiveMigratable',
        },
        {
          lastProbeTime: '2026-11-25T08:00:40Z',
          lastTransitionTime: null,
          status: 'True',
          type: 'AgentConnected',
        },
      ],
      currentCPUTopology: { cores: 1, sockets: 1, threads: 1 },
      guestOSInfo: {
        id: 'fedora',
        kernelRelease: '6.8.5-301.fc40.x86_64',
        kernelVersion: '#1 SMP PREEMPT_DYNAMIC Thu Apr 11 20:00:10 UTC 2024',
        machine: 'x86_64',
        name: 'Fedora Linux',
        prettyName: 'Fedora Linux 40 (Cloud Edition)',
        version: '40 (Cloud Edition)',
        versionId: '40',
      },
      interfaces: [
        {
          infoSource: 'domain, guest-agent',
          interfaceName: 'eth0',
          ipAddress: podIp,
          ipAddresses: [podIp],
          mac: mac(index, 0),
          name: 'default',
          queueCount: 1,
        },
        {
          infoSource: 'domain, guest-agent, multus-status',
          interfaceName: 'eth1',
          ipAddress: address,
          ipAddresses: [address],
          mac: mac(index, 1),
          name: 'nic1',
          queueCount: 1,
        },
      ],
      launcherContainerImageVersion: 'quay.io/kubevirt/virt-launcher:v1.3.1',
      machine: { type: 'pc-q35-rhel9.4.0' },
      memory: { guestAtBoot: '1Gi', guestCurrent: '1Gi', guestRequested: '1Gi' },
      migrationMethod: 'BlockMigration',
      migrationTransport: 'Unix',
      nodeName: node,
      phase: 'Running',
      phaseTransitionTimestamps: [
        { phase: 'Pending', phaseTransitionTimestamp: '2026-11-25T08:00:01Z' },
        { phase: 'Scheduling', phaseTransitionTimestamp: '2026-11-25T08:00:01Z' },
        { phase: 'Scheduled', phaseTransitionTimestamp: '2026-11-25T08:00:09Z' },
        { phase: 'Running', phaseTransitionTimestamp: '2026-11-25T08:00:12Z' },
      ],
      qosClass: 'Burstable',
      runtimeUser: 107,
      selinuxContext: 'none',
      virtualMachineRevisionName: `revision-start-vm-${vmUid}-2`,
      volumeStatus: [
        { name: 'cloudinitdisk', size: 1_048_576, target: 'vdb' },
        { containerDiskVolume: { checksum: 1_811_449_378 }, name: 'containerdisk', target: 'vda' },
      ],
    },
  };
}
