import { describe, expect, it } from '@jest/globals';
import type { ClaimedRecord } from '@zonewright/zone';
import { buildSandboxRecords, sandboxRecords, type SandboxObservation } from './sandbox-records.js';

const options = { clusterDomain: 'cluster.local', nodeIps: ['192.0.2.10'] };

function sandbox(
  overrides: Partial<SandboxObservation> & { name?: string; namespace?: string },
): SandboxObservation {
  const { name = 'web-0', namespace = 'default', ...rest } = overrides;
  return {
    id: `id-${name}`,
    metadata: { name, namespace, uid: `uid-${name}`, attempt: 0 },
    state: 'ready',
    ip: '10.244.0.5',
    additionalIps: [],
    networkMode: 'pod',
    hostname: 'camera',
    ...rest,
  };
}

function rows(records: readonly ClaimedRecord[]): string[] {
  return records.map((record) => `${record.name} ${record.type} ${record.address} ${record.claim}`);
}

describe('sandboxRecords', () => {
  const cases: {
    title: string;
    input: SandboxObservation;
    options?: { clusterDomain: string; nodeIps?: readonly string[] };
    records: string[];
    skipped?: { reason: string; detail: RegExp }[];
  }[] = [
    {
      title: 'ready pod: unique name under the namespace, shared names for the hostname',
      input: sandbox({}),
      records: [
        'camera.default.svc A 10.244.0.5 exclusive',
        'camera.svc A 10.244.0.5 shared',
        'camera A 10.244.0.5 shared',
      ],
    },
    {
      title: 'dual stack: additional_ips become AAAA records in canonical form',
      input: sandbox({ ip: '10.244.0.5', additionalIps: ['FD00:7A77:0:0::2'] }),
      records: [
        'camera.default.svc A 10.244.0.5 exclusive',
        'camera.default.svc AAAA fd00:7a77::2 exclusive',
        'camera.svc A 10.244.0.5 shared',
        'camera.svc AAAA fd00:7a77::2 shared',
        'camera A 10.244.0.5 shared',
        'camera AAAA fd00:7a77::2 shared',
      ],
    },
    {
      title: 'a duplicated address is served once',
      input: sandbox({ ip: '10.244.0.5', additionalIps: ['10.244.0.5'] }),
      records: [
        'camera.default.svc A 10.244.0.5 exclusive',
        'camera.svc A 10.244.0.5 shared',
        'camera A 10.244.0.5 shared',
      ],
    },
    {
      title: 'not ready: nothing, and nothing reported as skipped',
      input: sandbox({ state: 'notready' }),
      records: [],
    },
    {
      title: 'no hostname in the verbose status: the pod name is used',
      input: sandbox({ hostname: undefined, name: 'Sensor_1' }),
      records: [
        'sensor-1.default.svc A 10.244.0.5 exclusive',
        'sensor-1.svc A 10.244.0.5 shared',
        'sensor-1 A 10.244.0.5 shared',
      ],
    },
    {
      title: 'hostNetwork: the node IP, never the runtime view',
      input: sandbox({ networkMode: 'node', ip: '', hostname: undefined, name: 'agent' }),
      records: [
        'agent.default.svc A 192.0.2.10 exclusive',
        'agent.svc A 192.0.2.10 shared',
        'agent A 192.0.2.10 shared',
      ],
    },
    {
      title: 'hostNetwork with a runtime-reported IP still uses the node IP',
      input: sandbox({ networkMode: 'node', ip: '10.1.1.1' }),
      options: { clusterDomain: 'cluster.local', nodeIps: ['192.0.2.10', '2001:db8::10'] },
      records: [
        'camera.default.svc A 192.0.2.10 exclusive',
        'camera.default.svc AAAA 2001:db8::10 exclusive',
        'camera.svc A 192.0.2.10 shared',
        'camera.svc AAAA 2001:db8::10 shared',
        'camera A 192.0.2.10 shared',
        'camera AAAA 2001:db8::10 shared',
      ],
    },
    {
      title: 'hostNetwork without --node-ip: skipped, not served as 127.0.0.1',
      input: sandbox({ networkMode: 'node', ip: '' }),
      options: { clusterDomain: 'cluster.local' },
      records: [],
      skipped: [{ reason: 'invalid-address', detail: /no node IP configured/ }],
    },
    {
      title: 'hostNetwork with a loopback node IP: rejected as non-routable',
      input: sandbox({ networkMode: 'node', ip: '' }),
      options: { clusterDomain: 'cluster.local', nodeIps: ['127.0.0.1'] },
      records: [],
      skipped: [{ reason: 'non-routable-address', detail: /node IP 127\.0\.0\.1 is a loopback address/ }],
    },
    {
      title: 'pod network without an IP: skipped with a reason',
      input: sandbox({ ip: '' }),
      records: [],
      skipped: [{ reason: 'invalid-address', detail: /reports no IP/ }],
    },
    {
      title: 'an invalid additional IP is skipped, the valid one kept',
      input: sandbox({ ip: '10.244.0.5', additionalIps: ['fe80::1', 'not-an-ip'] }),
      records: [
        'camera.default.svc A 10.244.0.5 exclusive',
        'camera.svc A 10.244.0.5 shared',
        'camera A 10.244.0.5 shared',
      ],
      skipped: [
        { reason: 'non-routable-address', detail: /fe80::1/ },
        { reason: 'invalid-address', detail: /not-an-ip/ },
      ],
    },
    {
      title: 'a hostname that is not a label: no records, reason names the hostname',
      input: sandbox({ hostname: 'cam.era' }),
      records: [],
      skipped: [{ reason: 'invalid-name', detail: /hostname "cam\.era".*"\." at position 3/ }],
    },
    {
      title: 'a hostname of 64 characters is too long',
      input: sandbox({ hostname: 'a'.repeat(64) }),
      records: [],
      skipped: [{ reason: 'name-too-long', detail: /64 characters/ }],
    },
    {
      title: 'an invalid namespace loses only the unique name',
      input: sandbox({ namespace: 'bad;ns' }),
      records: ['camera.svc A 10.244.0.5 shared', 'camera A 10.244.0.5 shared'],
      skipped: [{ reason: 'invalid-name', detail: /namespace "bad;ns"/ }],
    },
    {
      title: 'names longer than 253 characters with the cluster domain are skipped one by one',
      input: sandbox({ hostname: 'h'.repeat(63), namespace: 'n'.repeat(63) }),
      options: { clusterDomain: `${'d'.repeat(63)}.${'e'.repeat(60)}` },
      records: [`${'h'.repeat(63)}.svc A 10.244.0.5 shared`, `${'h'.repeat(63)} A 10.244.0.5 shared`],
      skipped: [{ reason: 'name-too-long', detail: /at most 253/ }],
    },
  ];

  it.each(cases)('$title', ({ input, options: caseOptions, records, skipped = [] }) => {
    const result = sandboxRecords(input, caseOptions ?? options);
    expect(rows(result.records)).toEqual(records);
    expect(result.skipped).toHaveLength(skipped.length);
    skipped.forEach((expected, index) => {
      const actual = result.skipped[index];
      expect(actual?.reason).toBe(expected.reason);
      expect(actual?.detail).toMatch(expected.detail);
      expect(actual?.object).toBe(`${input.metadata.namespace}/${input.metadata.name}`);
    });
  });
});

describe('buildSandboxRecords', () => {
  it('keys records by sandbox id and leaves out sandboxes without records', () => {
    const result = buildSandboxRecords(
      [
        sandbox({ name: 'a', hostname: 'cam', ip: '10.0.0.1' }),
        sandbox({ name: 'b', hostname: 'cam', namespace: 'other', ip: '10.0.0.2' }),
        sandbox({ name: 'c', state: 'notready' }),
        sandbox({ name: 'd', ip: '' }),
      ],
      options,
    );
    expect([...result.entries.keys()]).toEqual(['id-a', 'id-b']);
    expect(rows(result.entries.get('id-b') ?? [])).toEqual([
      'cam.other.svc A 10.0.0.2 exclusive',
      'cam.svc A 10.0.0.2 shared',
      'cam A 10.0.0.2 shared',
    ]);
    // Both pods share cam.svc and cam: the reconciler serves both addresses there.
    expect(result.skipped.map((skip) => skip.object)).toEqual(['default/d']);
  });
});
