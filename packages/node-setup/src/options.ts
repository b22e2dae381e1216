/**
 * node-setup's options: one typed object with defaults, and their validation. Flags and environment variables
 * are the CLI's (its one option table reads these names and defaults).
 */
import { InvalidOptionError } from './errors.js';

export type IptablesBackendChoice = 'auto' | 'nft' | 'legacy';
export const IPTABLES_BACKEND_CHOICES: readonly IptablesBackendChoice[] = ['auto', 'nft', 'legacy'];

export interface NodeSetupOptions {
  /** The address pods and host processes send DNS queries to (port 53, UDP and TCP). */
  readonly clusterDns: string;
  /** Where those queries are sent instead: the node-local DNS. Empty = the CNI bridge gateway (cniGateway). */
  readonly localDnsAddress: string;
  readonly localDnsPort: number;
  /** Allow a loopback localDnsAddress, which pod traffic reaches only with route_localnet=1. */
  readonly allowRouteLocalnet: boolean;
  readonly iptablesBackend: IptablesBackendChoice;
  /** Install / remove / check the 169.254.0.2 redirect. */
  readonly dnsRedirect: boolean;
  /** Install / remove / check the bridge CNI conflist. */
  readonly cni: boolean;
  /** Create the CNI bridge with its gateway address at install, so the node-local DNS can bind it before any pod. */
  readonly cniBridgeSetup: boolean;
  readonly cniConfDir: string;
  readonly cniConfName: string;
  readonly cniNetworkName: string;
  readonly cniBridge: string;
  readonly cniSubnet: string;
  readonly cniGateway: string;
  /** Optional IPv6 pod range (CIDR); empty = IPv4 only. */
  readonly cniIpv6Range: string;
  /** Replace (after a timestamped backup) or delete a CNI config that differs from ours. */
  readonly force: boolean;
  /** Manage the node's systemd-resolved drop-in (off unless asked). */
  readonly resolver: boolean;
  /** Really change the resolver drop-in; without it the resolver step is a dry run. */
  readonly resolverApply: boolean;
  /** Restore the resolver drop-in from its latest backup (byte for byte) instead of installing it. */
  readonly resolverRevert: boolean;
  readonly clusterDomain: string;
  /** The node's root filesystem as seen by this process (a hostPath mount in the init container). */
  readonly hostRoot: string;
}

export const DEFAULT_NODE_SETUP_OPTIONS: NodeSetupOptions = Object.freeze({
  clusterDns: '169.254.0.2',
  localDnsAddress: '',
  localDnsPort: 53,
  allowRouteLocalnet: false,
  iptablesBackend: 'auto',
  dnsRedirect: true,
  cni: true,
  cniBridgeSetup: true,
  cniConfDir: '/etc/cni/net.d',
  cniConfName: '10-zonewright.conflist',
  cniNetworkName: 'zonewright',
  cniBridge: 'cni0',
  cniSubnet: '172.38.0.0/16',
  cniGateway: '172.38.0.1',
  cniIpv6Range: '',
  force: false,
  resolver: false,
  resolverApply: false,
  resolverRevert: false,
  clusterDomain: 'cluster.local',
  hostRoot: '/',
});

/** Defaults filled in, types checked, frozen. Address/CIDR semantics are checked by the plans. */
export function resolveNodeSetupOptions(partial: Partial<NodeSetupOptions> = {}): NodeSetupOptions {
  const merged: NodeSetupOptions = { ...DEFAULT_NODE_SETUP_OPTIONS };
  for (const [key, value] of Object.entries(partial)) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_NODE_SETUP_OPTIONS))
      throw new InvalidOptionError('option', key, 'unknown node-setup option');
    const expected = typeof DEFAULT_NODE_SETUP_OPTIONS[key as keyof NodeSetupOptions];
    if (typeof value !== expected) throw new InvalidOptionError(key, value, `expected a ${expected}`);
    (merged as unknown as Record<string, unknown>)[key] = value;
  }
  if (!IPTABLES_BACKEND_CHOICES.includes(merged.iptablesBackend)) {
    throw new InvalidOptionError(
      '--iptables-backend',
      merged.iptablesBackend,
      'expected auto, nft or legacy',
    );
  }
  if (!Number.isInteger(merged.localDnsPort) || merged.localDnsPort < 1 || merged.localDnsPort > 65535) {
    throw new InvalidOptionError('--local-dns-port', merged.localDnsPort, 'expected a port number 1-65535');
  }
  for (const key of ['cniConfName', 'cniNetworkName', 'cniBridge'] as const) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(merged[key]) || merged[key].length > 200) {
      throw new InvalidOptionError(key, merged[key], 'expected a plain name (letters, digits, . _ -)');
    }
  }
  if (merged.cniBridge.length > 15) {
    throw new InvalidOptionError(
      '--cni-bridge',
      merged.cniBridge,
      'interface names are at most 15 characters',
    );
  }
  if (!/\.(conflist)$/.test(merged.cniConfName)) {
    throw new InvalidOptionError(
      '--cni-conf-name',
      merged.cniConfName,
      'a conflist file name must end in .conflist',
    );
  }
  for (const key of ['cniConfDir', 'hostRoot'] as const) {
    if (!merged[key].startsWith('/'))
      throw new InvalidOptionError(key, merged[key], 'expected an absolute path');
  }
  return Object.freeze(merged);
}

/** The address the redirect sends queries to: the explicit one, else the CNI bridge gateway. */
export function effectiveLocalDnsAddress(options: NodeSetupOptions): string {
  return options.localDnsAddress === '' ? options.cniGateway : options.localDnsAddress;
}
