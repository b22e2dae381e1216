import { describe, expect, it } from '@jest/globals';

import { planCniConfig } from './cni-plan.js';
import { InvalidOptionError } from './errors.js';

const base = { networkName: 'zonewright', bridge: 'cni0', subnet: '172.38.0.0/16', gateway: '172.38.0.1' };

describe('planCniConfig', () => {
  it('writes a bridge + host-local + portmap conflist with the subnet and gateway', () => {
    const plan = planCniConfig(base);
    expect(JSON.parse(plan.content)).toEqual({
      cniVersion: '1.0.0',
      name: 'zonewright',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: '172.38.0.0/16', gateway: '172.38.0.1' }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    });
    expect(plan.content.endsWith('}\n')).toBe(true);
    expect(planCniConfig(base).content).toBe(plan.content);
  });

  it('adds an IPv6 range and default route when asked', () => {
    const plan = planCniConfig({ ...base, ipv6Range: 'fd00:38::/64' });
    const ipam = (JSON.parse(plan.content) as { plugins: { ipam?: { ranges: unknown; routes: unknown } }[] })
      .plugins[0]?.ipam;
    expect(ipam?.ranges).toEqual([
      [{ subnet: '172.38.0.0/16', gateway: '172.38.0.1' }],
      [{ subnet: 'fd00:38::/64' }],
    ]);
    expect(ipam?.routes).toEqual([{ dst: '0.0.0.0/0' }, { dst: '::/0' }]);
  });

  it.each([
    [{ subnet: '172.38.0.0' }, /--cni-subnet "172.38.0.0": not a CIDR/],
    [{ subnet: '172.38.0.0/33' }, /--cni-subnet .*not a CIDR/],
    [{ subnet: '172.380.0.0/16' }, /--cni-subnet .*not a CIDR/],
    [
      { subnet: '172.38.0.1/16', gateway: '172.38.0.2' },
      /host bits are set; the network is 172\.38\.0\.0\/16/,
    ],
    [{ subnet: '172.38.0.0/31', gateway: '172.38.0.1' }, /too small/],
    [{ subnet: 'fd00::/64' }, /--cni-subnet .*expected an IPv4 range/],
    [{ gateway: 'gateway' }, /--cni-gateway "gateway": expected an IPv4 address/],
    [{ gateway: '172.39.0.1' }, /--cni-gateway "172.39.0.1": not inside --cni-subnet 172.38.0.0\/16/],
    [{ gateway: '172.38.0.0' }, /network address of 172.38.0.0\/16/],
    [{ gateway: '172.38.255.255' }, /broadcast address of 172.38.0.0\/16/],
    [{ ipv6Range: '172.39.0.0/16' }, /--cni-ipv6-range .*expected an IPv6 range/],
    [{ ipv6Range: 'fd00:38::1/64' }, /--cni-ipv6-range .*host bits/],
  ])('rejects %j with a message naming the flag', (change, message) => {
    expect(() => planCniConfig({ ...base, ...change })).toThrow(InvalidOptionError);
    expect(() => planCniConfig({ ...base, ...change })).toThrow(message);
  });

  it('accepts a gateway at the last usable address', () => {
    expect(planCniConfig({ ...base, subnet: '10.1.2.0/24', gateway: '10.1.2.254' }).content).toContain(
      '10.1.2.254',
    );
  });
});
