import { describe, expect, it } from '@jest/globals';

import { InvalidOptionError } from './errors.js';
import { planResolver } from './resolver-plan.js';

describe('planResolver', () => {
  it('routes only the cluster domain to the DNS address and never sets global servers alone', () => {
    const plan = planResolver({ dnsAddress: '169.254.0.2', clusterDomain: 'cluster.local.' });
    expect(plan.path).toBe('etc/systemd/resolved.conf.d/zonewright.conf');
    const settings = plan.content.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(settings).toEqual(['[Resolve]', 'DNS=169.254.0.2', 'Domains=~cluster.local']);
  });

  it.each([
    [{ dnsAddress: 'x', clusterDomain: 'cluster.local' }, /--cluster-dns "x"/],
    [{ dnsAddress: '169.254.0.2', clusterDomain: 'bad domain' }, /--cluster-domain "bad domain"/],
    [{ dnsAddress: '169.254.0.2', clusterDomain: '' }, /--cluster-domain ""/],
  ])('rejects %j', (options, message) => {
    expect(() => planResolver(options)).toThrow(InvalidOptionError);
    expect(() => planResolver(options)).toThrow(message);
  });
});
