/** The node's systemd-resolved drop-in as data. No I/O. */
import { InvalidOptionError } from './errors.js';
import { parseAddress } from './ip.js';

/** Where the drop-in lives, relative to the host root. */
export const RESOLVER_DROP_IN_PATH = 'etc/systemd/resolved.conf.d/zonewright.conf';

export interface ResolverPlanOptions {
  /** The DNS address the node should ask for the cluster domain (the cluster DNS address). */
  readonly dnsAddress: string;
  readonly clusterDomain: string;
}

export interface ResolverPlan {
  /** Relative to the host root. */
  readonly path: string;
  readonly content: string;
}

const DOMAIN =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * A drop-in that routes only the cluster domain to the node-local DNS (`Domains=~<domain>`): the node's own
 * DNS servers stay as they are, so the node-local DNS can keep forwarding other names to them without a loop.
 */
export function planResolver(options: ResolverPlanOptions): ResolverPlan {
  if (parseAddress(options.dnsAddress) === undefined) {
    throw new InvalidOptionError('--cluster-dns', options.dnsAddress, 'expected an IP address');
  }
  const domain = options.clusterDomain.replace(/\.$/, '');
  if (!DOMAIN.test(domain)) {
    throw new InvalidOptionError(
      '--cluster-domain',
      options.clusterDomain,
      'expected a DNS domain such as cluster.local',
    );
  }
  const content = [
    '# Written by zonewright node-setup. Route-only: names under the cluster domain go to the node-local DNS;',
    "# everything else keeps using the node's own DNS servers. Undo: zonewright node-setup remove --resolver",
    '# --resolver-apply (restores the file that was here before, byte for byte).',
    '[Resolve]',
    `DNS=${options.dnsAddress}`,
    `Domains=~${domain}`,
    '',
  ].join('\n');
  return { path: RESOLVER_DROP_IN_PATH, content };
}
