/** node-setup's options: one typed object with defaults, the flag/env table the CLI builds on, validation. */
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

export interface NodeSetupFlag {
  /** Long flag name without dashes, as the CLI should declare it. */
  readonly flag: string;
  readonly option: keyof NodeSetupOptions;
  readonly type: 'string' | 'number' | 'boolean';
  /** Environment variables read for it, first match wins (ZONEWRIGHT_* first, then smarter-compatible aliases). */
  readonly env: readonly string[];
  readonly description: string;
}

/** The flags and environment variables of `zonewright node-setup`; the CLI declares its yargs options from this. */
export const NODE_SETUP_FLAGS: readonly NodeSetupFlag[] = Object.freeze([
  {
    flag: 'cluster-dns',
    option: 'clusterDns',
    type: 'string',
    env: ['ZONEWRIGHT_CLUSTER_DNS', 'CLUSTER_DNS'],
    description: 'address pods and the node query (port 53, UDP+TCP)',
  },
  {
    flag: 'local-dns-address',
    option: 'localDnsAddress',
    type: 'string',
    env: ['ZONEWRIGHT_LOCAL_DNS_ADDRESS', 'LOCAL_DNS_ADDRESS'],
    description: 'node-local DNS address the queries are sent to (default: the CNI gateway)',
  },
  {
    flag: 'local-dns-port',
    option: 'localDnsPort',
    type: 'number',
    env: ['ZONEWRIGHT_LOCAL_DNS_PORT', 'LOCAL_DNS_PORT'],
    description: 'node-local DNS port',
  },
  {
    flag: 'allow-route-localnet',
    option: 'allowRouteLocalnet',
    type: 'boolean',
    env: ['ZONEWRIGHT_ALLOW_ROUTE_LOCALNET'],
    description:
      'accept a loopback local DNS address (pod traffic then needs route_localnet=1: a security hazard)',
  },
  {
    flag: 'iptables-backend',
    option: 'iptablesBackend',
    type: 'string',
    env: ['ZONEWRIGHT_IPTABLES_BACKEND'],
    description: 'auto | nft | legacy',
  },
  {
    flag: 'dns-redirect',
    option: 'dnsRedirect',
    type: 'boolean',
    env: ['ZONEWRIGHT_DNS_REDIRECT'],
    description: 'manage the cluster DNS redirect (--no-dns-redirect to skip)',
  },
  {
    flag: 'cni',
    option: 'cni',
    type: 'boolean',
    env: ['ZONEWRIGHT_CNI'],
    description: 'manage the bridge CNI conflist (--no-cni to skip)',
  },
  {
    flag: 'cni-bridge-setup',
    option: 'cniBridgeSetup',
    type: 'boolean',
    env: ['ZONEWRIGHT_CNI_BRIDGE_SETUP'],
    description:
      'create the CNI bridge with the gateway address at install, so the node-local DNS can bind it before the first pod (--no-cni-bridge-setup to skip)',
  },
  {
    flag: 'cni-conf-dir',
    option: 'cniConfDir',
    type: 'string',
    env: ['ZONEWRIGHT_CNI_CONF_DIR', 'CNI_CONF_DIR'],
    description: 'CNI config directory',
  },
  {
    flag: 'cni-conf-name',
    option: 'cniConfName',
    type: 'string',
    env: ['ZONEWRIGHT_CNI_CONF_NAME'],
    description: 'file name of the conflist',
  },
  {
    flag: 'cni-network-name',
    option: 'cniNetworkName',
    type: 'string',
    env: ['ZONEWRIGHT_CNI_NETWORK_NAME'],
    description: 'CNI network name',
  },
  {
    flag: 'cni-bridge',
    option: 'cniBridge',
    type: 'string',
    env: ['ZONEWRIGHT_CNI_BRIDGE'],
    description: 'bridge interface name',
  },
  {
    flag: 'cni-subnet',
    option: 'cniSubnet',
    type: 'string',
    env: ['ZONEWRIGHT_CNI_SUBNET', 'CNI_SUBNET'],
    description: 'pod IPv4 subnet (CIDR)',
  },
  {
    flag: 'cni-gateway',
    option: 'cniGateway',
    type: 'string',
    env: ['ZONEWRIGHT_CNI_GATEWAY', 'CNI_GATEWAY'],
    description: 'bridge gateway address inside the subnet',
  },
  {
    flag: 'cni-ipv6-range',
    option: 'cniIpv6Range',
    type: 'string',
    env: ['ZONEWRIGHT_CNI_IPV6_RANGE', 'CNI_IPV6_RANGE'],
    description: 'optional pod IPv6 range (CIDR)',
  },
  {
    flag: 'force',
    option: 'force',
    type: 'boolean',
    env: ['ZONEWRIGHT_FORCE'],
    description: 'replace or delete a different existing CNI config (backed up first)',
  },
  {
    flag: 'resolver',
    option: 'resolver',
    type: 'boolean',
    env: ['ZONEWRIGHT_RESOLVER'],
    description: 'manage the systemd-resolved drop-in (dry run unless --resolver-apply)',
  },
  {
    flag: 'resolver-apply',
    option: 'resolverApply',
    type: 'boolean',
    env: ['ZONEWRIGHT_RESOLVER_APPLY'],
    description: 'really write the resolver drop-in and restart systemd-resolved',
  },
  {
    flag: 'revert',
    option: 'resolverRevert',
    type: 'boolean',
    env: ['ZONEWRIGHT_RESOLVER_REVERT'],
    description: 'restore the resolver drop-in from its latest backup',
  },
  {
    flag: 'cluster-domain',
    option: 'clusterDomain',
    type: 'string',
    env: ['ZONEWRIGHT_CLUSTER_DOMAIN', 'CLUSTER_DOMAIN'],
    description: 'domain routed to the node-local DNS by the resolver drop-in',
  },
  {
    flag: 'host-root',
    option: 'hostRoot',
    type: 'string',
    env: ['ZONEWRIGHT_HOST_ROOT', 'HOST_ROOT'],
    description: "the node's root filesystem (resolver drop-in lives below it)",
  },
] satisfies NodeSetupFlag[]);

/** Options found in the environment (only those set), by NODE_SETUP_FLAGS; values are validated later. */
export function nodeSetupOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Partial<NodeSetupOptions> {
  const found: Record<string, string | number | boolean> = {};
  for (const entry of NODE_SETUP_FLAGS) {
    const name = entry.env.find((candidate) => env[candidate] !== undefined && env[candidate] !== '');
    if (name === undefined) continue;
    const raw = (env[name] ?? '').trim();
    if (entry.type === 'string') found[entry.option] = raw;
    else if (entry.type === 'number') {
      if (!/^\d+$/.test(raw)) throw new InvalidOptionError(name, raw, 'expected a whole number');
      found[entry.option] = Number(raw);
    } else {
      const lower = raw.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(lower)) found[entry.option] = true;
      else if (['0', 'false', 'no', 'off'].includes(lower)) found[entry.option] = false;
      else throw new InvalidOptionError(name, raw, 'expected true or false');
    }
  }
  return found;
}

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
