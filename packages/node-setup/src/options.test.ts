import { describe, expect, it } from '@jest/globals';

import { InvalidOptionError } from './errors.js';
import {
  DEFAULT_NODE_SETUP_OPTIONS,
  NODE_SETUP_FLAGS,
  effectiveLocalDnsAddress,
  nodeSetupOptionsFromEnv,
  resolveNodeSetupOptions,
} from './options.js';
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

  it('has a flag for every option', () => {
    expect(NODE_SETUP_FLAGS.map((flag) => flag.option).sort()).toEqual(
      Object.keys(DEFAULT_NODE_SETUP_OPTIONS).sort(),
    );
  });

  it('reads ZONEWRIGHT_* first, then smarter-style aliases, with typed values', () => {
    expect(
      nodeSetupOptionsFromEnv({
        CLUSTER_DNS: '169.254.0.9',
        ZONEWRIGHT_CNI_SUBNET: '10.9.0.0/16',
        CNI_SUBNET: '10.8.0.0/16',
        ZONEWRIGHT_LOCAL_DNS_PORT: '5300',
        ZONEWRIGHT_RESOLVER: 'yes',
        UNRELATED: 'x',
      }),
    ).toEqual({ clusterDns: '169.254.0.9', cniSubnet: '10.9.0.0/16', localDnsPort: 5300, resolver: true });
    expect(() => nodeSetupOptionsFromEnv({ ZONEWRIGHT_LOCAL_DNS_PORT: '53x' })).toThrow(
      /ZONEWRIGHT_LOCAL_DNS_PORT "53x"/,
    );
    expect(() => nodeSetupOptionsFromEnv({ ZONEWRIGHT_FORCE: 'maybe' })).toThrow(InvalidOptionError);
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
