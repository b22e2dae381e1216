import { describe, expect, it } from '@jest/globals';
import type { ClaimedRecord } from '@zonewright/zone';
import { buildVmiRecords, InvalidVmiError, summarizeVmi, vmiKey } from './vmi-records.js';
import type { VmiSummary } from './vmi-records.js';

/**
 * Status shapes as KubeVirt reports them (v1.x): `infoSource` is a comma-joined list of `domain`, `guest-agent`,
 * `multus-status`; `ipAddress` is the first of `ipAddresses`; guest-only interfaces (docker0, lo) have no `name`.
 */
function fedoraVmi(): Record<string, unknown> {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: {
      name: 'fedora-web',
      namespace: 'tenant-a',
      uid: '6f0c1d8e-7f5b-4e0e-9a47-2d3f1c8b9a10',
      resourceVersion: '482913',
      generation: 12,
      labels: { 'kubevirt.io/domain': 'fedora-web', 'kubevirt.io/nodeName': 'worker-1' },
      annotations: {
        'kubevirt.io/latest-observed-api-version': 'v1',
        'kubevirt.io/storage-observed-api-version': 'v1',
      },
      finalizers: ['kubevirt.io/virtualMachineControllerFinalize', 'foregroundDeleteVirtualMachine'],
    },
    spec: {
      domain: {
        devices: {
          interfaces: [
            { name: 'default', masquerade: {} },
            { name: 'nic1', bridge: {} },
            { name: 'storage', bridge: {} },
          ],
        },
        resources: { requests: { memory: '2Gi' } },
      },
      networks: [
        { name: 'default', pod: {} },
        { name: 'nic1', multus: { networkName: 'tenant-a/br10' } },
        { name: 'storage', multus: { networkName: 'storage-net' } },
      ],
    },
    status: {
      phase: 'Running',
      nodeName: 'worker-1',
      interfaces: [
        {
          infoSource: 'domain, guest-agent',
          interfaceName: 'eth0',
          ipAddress: '10.244.1.23',
          ipAddresses: ['10.244.1.23', 'fd10:244:1::17'],
          mac: '52:54:00:3b:1a:6c',
          name: 'default',
          podInterfaceName: 'eth0',
          queueCount: 1,
          linkState: 'up',
        },
        {
          infoSource: 'domain, guest-agent, multus-status',
          interfaceName: 'eth1',
          ipAddress: '10.200.0.5',
          ipAddresses: ['10.200.0.5', '2001:db8:10::5', 'fe80::5054:ff:fe8b:f7d9'],
          mac: '52:54:00:8b:f7:d9',
          name: 'nic1',
          podInterfaceName: 'pod6e1b4c4f8a2',
          queueCount: 1,
          linkState: 'up',
        },
        {
          infoSource: 'domain, guest-agent, multus-status',
          interfaceName: 'eth2',
          ipAddress: '192.168.50.12',
          ipAddresses: ['192.168.50.12'],
          mac: '52:54:00:11:22:33',
          name: 'storage',
          podInterfaceName: 'pod9a0c2f1e7d3',
          queueCount: 1,
        },
        {
          infoSource: 'guest-agent',
          interfaceName: 'docker0',
          ipAddress: '172.17.0.1',
          ipAddresses: ['172.17.0.1'],
          mac: '02:42:5c:1d:7e:01',
        },
      ],
    },
  };
}

function summary(partial: Partial<VmiSummary>): VmiSummary {
  return {
    namespace: 'ns',
    name: 'vm',
    uid: 'u1',
    resourceVersion: '1',
    excluded: false,
    interfaces: [],
    ...partial,
  };
}

function rec(name: string, type: 'A' | 'AAAA', address: string): ClaimedRecord {
  return { name, type, address, claim: 'exclusive' };
}

describe('summarizeVmi', () => {
  it('keeps only secondary interfaces and the fields the builder needs', () => {
    const result = summarizeVmi(fedoraVmi());
    expect(result).toEqual({
      namespace: 'tenant-a',
      name: 'fedora-web',
      uid: '6f0c1d8e-7f5b-4e0e-9a47-2d3f1c8b9a10',
      resourceVersion: '482913',
      excluded: false,
      interfaces: [
        { name: 'nic1', addresses: ['10.200.0.5', '2001:db8:10::5', 'fe80::5054:ff:fe8b:f7d9'] },
        { name: 'storage', addresses: ['192.168.50.12'] },
      ],
    });
  });

  it('drops a Multus default network and keeps other Multus networks', () => {
    const vmi = fedoraVmi();
    (vmi['spec'] as { networks: unknown[] }).networks = [
      { name: 'default', multus: { networkName: 'ovn-primary', default: true } },
      { name: 'nic1', multus: { networkName: 'tenant-a/br10' } },
      { name: 'storage', multus: { networkName: 'storage-net', default: false } },
    ];
    const result = summarizeVmi(vmi);
    if (result instanceof Error) throw result;
    expect(result.interfaces.map((iface) => iface.name)).toEqual(['nic1', 'storage']);
  });

  it('falls back to ipAddress when ipAddresses is missing or empty', () => {
    const vmi = fedoraVmi();
    const interfaces = (vmi['status'] as { interfaces: Record<string, unknown>[] }).interfaces;
    delete interfaces[1]?.['ipAddresses'];
    if (interfaces[2] !== undefined) interfaces[2]['ipAddresses'] = [];
    const result = summarizeVmi(vmi);
    if (result instanceof Error) throw result;
    expect(result.interfaces).toEqual([
      { name: 'nic1', addresses: ['10.200.0.5'] },
      { name: 'storage', addresses: ['192.168.50.12'] },
    ]);
  });

  it('skips status interfaces whose name is not in spec.networks (hot-unplugged or guest-only)', () => {
    const vmi = fedoraVmi();
    (vmi['status'] as { interfaces: unknown[] }).interfaces.push({
      infoSource: 'guest-agent',
      interfaceName: 'eth9',
      ipAddresses: ['10.9.9.9'],
      name: 'gone',
    });
    const result = summarizeVmi(vmi);
    if (result instanceof Error) throw result;
    expect(result.interfaces.map((iface) => iface.name)).toEqual(['nic1', 'storage']);
  });

  it('reads the opt-out annotation only when it is exactly "true"', () => {
    const vmi = fedoraVmi();
    const metadata = vmi['metadata'] as { annotations: Record<string, string> };
    metadata.annotations['zonewright.io/exclude'] = 'true';
    expect(summarizeVmi(vmi)).toMatchObject({ excluded: true });
    metadata.annotations['zonewright.io/exclude'] = 'yes';
    expect(summarizeVmi(vmi)).toMatchObject({ excluded: false });
  });

  it('handles a VMI that is still being scheduled (no status, no networks)', () => {
    const result = summarizeVmi({
      kind: 'VirtualMachineInstance',
      metadata: { name: 'new', namespace: 'x' },
      spec: {},
    });
    expect(result).toEqual({
      namespace: 'x',
      name: 'new',
      uid: '',
      resourceVersion: '',
      excluded: false,
      interfaces: [],
    });
  });

  it('defaults the namespace to "default" like kubectl does', () => {
    expect(summarizeVmi({ metadata: { name: 'a' } })).toMatchObject({ namespace: 'default', name: 'a' });
  });

  it.each([
    [null, 'must be an object'],
    [[], 'must be an object'],
    [{ kind: 'Pod', metadata: { name: 'p' } }, 'kind is "Pod"'],
    [{ kind: 'VirtualMachineInstance' }, 'metadata is missing'],
    [{ metadata: { namespace: 'a' } }, 'metadata.name is missing'],
    [{ metadata: { name: 7 } }, 'metadata.name must be a string'],
    [{ metadata: { name: 'a', annotations: 'x' } }, 'default/a: metadata.annotations must be an object'],
    [{ metadata: { name: 'a' }, spec: { networks: {} } }, 'spec.networks must be a list'],
    [
      { metadata: { name: 'a' }, spec: { networks: [{ pod: {} }] } },
      'spec.networks[0].name must be a string',
    ],
    [{ metadata: { name: 'a' }, status: { interfaces: 'eth0' } }, 'status.interfaces must be a list'],
    [{ metadata: { name: 'a' }, status: { interfaces: [3] } }, 'status.interfaces[0] must be an object'],
  ])('rejects %j with a message naming the field', (input, message) => {
    const result = summarizeVmi(input);
    expect(result).toBeInstanceOf(InvalidVmiError);
    expect((result as Error).message).toContain(message);
  });
});

describe('buildVmiRecords', () => {
  it('builds interface and VMI names from a real status, skipping link-local addresses', () => {
    const vmi = summarizeVmi(fedoraVmi());
    if (vmi instanceof Error) throw vmi;
    const { records, skipped } = buildVmiRecords(vmi, {});
    expect(records).toEqual([
      rec('nic1.fedora-web.tenant-a', 'A', '10.200.0.5'),
      rec('nic1.fedora-web.tenant-a', 'AAAA', '2001:db8:10::5'),
      rec('storage.fedora-web.tenant-a', 'A', '192.168.50.12'),
      rec('fedora-web.tenant-a', 'A', '10.200.0.5'),
      rec('fedora-web.tenant-a', 'AAAA', '2001:db8:10::5'),
    ]);
    expect(skipped).toEqual([
      {
        reason: 'non-routable-address',
        detail: expect.stringContaining('fe80::5054:ff:fe8b:f7d9'),
        object: 'tenant-a/fedora-web',
      },
    ]);
  });

  it('keeps link-local addresses when allowNonRoutable is set', () => {
    const { records, skipped } = buildVmiRecords(
      summary({ interfaces: [{ name: 'nic1', addresses: ['fe80::1', '169.254.3.4'] }] }),
      { allowNonRoutable: true },
    );
    expect(skipped).toEqual([]);
    expect(records.map((record) => record.address)).toEqual([
      'fe80::1',
      '169.254.3.4',
      'fe80::1',
      '169.254.3.4',
    ]);
  });

  const table: [string, VmiSummary, ClaimedRecord[], { reason: string; detail: RegExp }[]][] = [
    ['no secondary interface (pod network only)', summary({}), [], []],
    [
      'secondary interface without an address yet',
      summary({ interfaces: [{ name: 'nic1', addresses: [] }] }),
      [],
      [],
    ],
    [
      'IPv6 only, written in non-canonical form',
      summary({ interfaces: [{ name: 'nic1', addresses: ['2001:DB8:0:0:0:0:0:7'] }] }),
      [rec('nic1.vm.ns', 'AAAA', '2001:db8::7'), rec('vm.ns', 'AAAA', '2001:db8::7')],
      [],
    ],
    [
      'the VMI name takes the first interface in label order, not status order',
      summary({
        interfaces: [
          { name: 'zeta', addresses: ['10.0.0.26'] },
          { name: 'alpha', addresses: ['10.0.0.1'] },
        ],
      }),
      [
        rec('alpha.vm.ns', 'A', '10.0.0.1'),
        rec('zeta.vm.ns', 'A', '10.0.0.26'),
        rec('vm.ns', 'A', '10.0.0.1'),
      ],
      [],
    ],
    [
      'no VMI name while the first interface has no valid address',
      summary({
        interfaces: [
          { name: 'a', addresses: ['fe80::1'] },
          { name: 'b', addresses: ['10.0.0.2'] },
        ],
      }),
      [rec('b.vm.ns', 'A', '10.0.0.2')],
      [{ reason: 'non-routable-address', detail: /interface a: .*fe80::1/ }],
    ],
    [
      'duplicate addresses are written once',
      summary({ interfaces: [{ name: 'nic1', addresses: ['10.1.1.1', '10.1.1.1'] }] }),
      [rec('nic1.vm.ns', 'A', '10.1.1.1'), rec('vm.ns', 'A', '10.1.1.1')],
      [],
    ],
    [
      'invalid and loopback addresses are skipped, the rest kept',
      summary({ interfaces: [{ name: 'nic1', addresses: ['10.1.1.300', '127.0.0.1', '10.1.1.1'] }] }),
      [rec('nic1.vm.ns', 'A', '10.1.1.1'), rec('vm.ns', 'A', '10.1.1.1')],
      [
        { reason: 'invalid-address', detail: /interface nic1: .*10\.1\.1\.300/ },
        { reason: 'non-routable-address', detail: /interface nic1: .*127\.0\.0\.1/ },
      ],
    ],
    [
      'upper case and "_" in names are folded',
      summary({ name: 'Web_1', interfaces: [{ name: 'NIC_1', addresses: ['10.0.0.1'] }] }),
      [rec('nic-1.web-1.ns', 'A', '10.0.0.1'), rec('web-1.ns', 'A', '10.0.0.1')],
      [],
    ],
    [
      'two interfaces with the same label: first in name order wins, the other is a conflict',
      summary({
        interfaces: [
          { name: 'nic_1', addresses: ['10.0.0.2'] },
          { name: 'nic-1', addresses: ['10.0.0.1'] },
        ],
      }),
      [rec('nic-1.vm.ns', 'A', '10.0.0.1'), rec('vm.ns', 'A', '10.0.0.1')],
      [{ reason: 'conflict', detail: /interface nic_1 maps to the same name "nic-1" as interface nic-1/ }],
    ],
    [
      'an interface name that cannot be a label is skipped with its reason',
      summary({
        interfaces: [
          { name: 'bad.name', addresses: ['10.0.0.1'] },
          { name: 'ok', addresses: ['10.0.0.2'] },
        ],
      }),
      [rec('ok.vm.ns', 'A', '10.0.0.2'), rec('vm.ns', 'A', '10.0.0.2')],
      [{ reason: 'invalid-name', detail: /interface bad\.name: character "\."/ }],
    ],
    [
      'a VMI name that is too long for a label skips the whole VMI',
      summary({ name: 'v'.repeat(64), interfaces: [{ name: 'nic1', addresses: ['10.0.0.1'] }] }),
      [],
      [{ reason: 'name-too-long', detail: /64 characters/ }],
    ],
    [
      'opted-out VMI has neither records nor skips',
      summary({ excluded: true, interfaces: [{ name: 'bad.name', addresses: ['10.0.0.1'] }] }),
      [],
      [],
    ],
  ];

  it.each(table)('%s', (_title, vmi, records, skipped) => {
    const result = buildVmiRecords(vmi, {});
    expect(result.records).toEqual(records);
    expect(result.skipped).toHaveLength(skipped.length);
    for (const [index, expected] of skipped.entries()) {
      expect(result.skipped[index]?.reason).toBe(expected.reason);
      expect(result.skipped[index]?.detail).toMatch(expected.detail);
      expect(result.skipped[index]?.object).toBe(`${vmi.namespace}/${vmi.name}`);
    }
  });

  it('checks the full length of a name against the origin', () => {
    const vmi = summary({
      name: 'v'.repeat(63),
      namespace: 'n'.repeat(63),
      interfaces: [{ name: 'i'.repeat(63), addresses: ['10.0.0.1'] }],
    });
    expect(buildVmiRecords(vmi, {}).records).toHaveLength(2);
    const result = buildVmiRecords(vmi, { origin: 'vm.' + 'x'.repeat(60) + '.example.com' });
    expect(result.records).toEqual([]);
    expect(result.skipped.map((skip) => skip.reason)).toEqual(['name-too-long']);
  });

  it('is deterministic regardless of interface order', () => {
    const interfaces = [
      { name: 'c', addresses: ['10.0.0.3'] },
      { name: 'a', addresses: ['10.0.0.1', '2001:db8::1'] },
      { name: 'b', addresses: ['10.0.0.2'] },
    ];
    const first = buildVmiRecords(summary({ interfaces }), {});
    const second = buildVmiRecords(summary({ interfaces: [...interfaces].reverse() }), {});
    expect(second).toEqual(first);
  });
});

describe('vmiKey', () => {
  it('uses the uid, or namespace/name when there is none', () => {
    expect(vmiKey({ namespace: 'a', name: 'b', uid: 'u' })).toBe('u');
    expect(vmiKey({ namespace: 'a', name: 'b', uid: '' })).toBe('a/b');
  });
});
