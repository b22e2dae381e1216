import { describe, expect, it } from '@jest/globals';

import { effectiveLocalDnsAddress, resolveNodeSetupOptions } from './options.js';
import type { NodeSetupOptions } from './options.js';

describe('node-setup options', () => {
  it('defaults to 169.254.0.2 redirected to the CNI gateway, smarter-cni address plan, resolver off', () => {
    const options = resolveNodeSetupOptions();
    expect(options.clusterDns).toBe('169.254.0.2');
    expect(options.cniSubnet).toBe('172.38.0.0/16');
    expect(options.cniGateway).toBe('172.38.0.1');
    expect(effectiveLocalDnsAddress(options)).toBe('172.38.0.1');
    expect(
      effectiveLocalDnsAddress(resolveNodeSetupOptions({ cniGateway: '10.0.0.1', cniSubnet: '10.0.0.0/24' })),
    ).toBe('10.0.0.1');
    expect(options.resolver).toBe(false);
    expect(options.resolverApply).toBe(false);
    expect(Object.isFrozen(options)).toBe(true);
  });

  it.each([
    [{ iptablesBackend: 'iptables' as 'nft' }, /--iptables-backend "iptables"/],
    [{ localDnsPort: 0 }, /--local-dns-port 0/],
    [{ cniBridge: 'a-very-long-bridge-name' }, /at most 15/],
    [{ cniConfName: '10-zonewright.conf.tmp' }, /\.conflist/],
    [{ cniConfDir: 'etc/cni' }, /absolute path/],
    [{ force: 'yes' as unknown as boolean }, /force "yes": expected a boolean/],
    [{ bogus: 1 } as Partial<NodeSetupOptions>, /unknown node-setup option/],
  ])('rejects %j', (partial, message) => {
    expect(() => resolveNodeSetupOptions(partial)).toThrow(message);
  });
});
