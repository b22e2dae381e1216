/**
 * Every option of every command, declared once. `--help`, the README tables (tested against these) and the
 * parser all read this file; adding an option is one entry here plus using its value.
 */
import {
  DEFAULT_NODE_SETUP_OPTIONS,
  IPTABLES_BACKEND_CHOICES,
  type NodeSetupOptions,
} from '@zonewright/node-setup';
import { parseReverseRanges, toAddress } from '@zonewright/zone';
import { LOG_LEVELS } from '../logging.js';
import { parseListen } from '../ops-server.js';
import {
  boolean,
  choice,
  duration,
  flagOf,
  integer,
  list,
  text,
  type AnyOption,
  type OptionSpec,
  type OptionTable,
} from './option-table.js';

/** Why a text is not an IP address (any address: the glue may be loopback in a demo), or undefined. */
function notAnAddress(value: string): string | undefined {
  const result = toAddress(value.trim(), { allowNonRoutable: true });
  return result.ok ? undefined : 'an IPv4 or IPv6 address';
}

function notListenable(value: string): string | undefined {
  if (value.trim() === '') return undefined;
  try {
    parseListen(value);
    return undefined;
  } catch {
    return "host:port, :port, a port number, or '' (off)";
  }
}

export const GLOBAL_OPTIONS = {
  logFormat: choice(['auto', 'json', 'text'] as const, {
    default: 'auto',
    global: true,
    help: 'log format: JSON lines (clusters) or text (terminals); auto picks text on a TTY',
  }),
  logLevel: choice(LOG_LEVELS, { default: 'info', global: true, help: 'least severe level logged' }),
} satisfies OptionTable;

const zonesDir = (help: string) => text({ default: '/zones', allowed: 'a directory', help });
const ttl = () =>
  integer({ min: 0, max: 2_147_483_647, unit: 'seconds', default: 30, help: 'TTL of every record' });
const debounce = (value: string, help: string) =>
  duration({ flag: 'debounce', default: value, min: '0', max: '10m', deprecatedMsFlag: 'debounce-ms', help });
const maxDelay = (value: string, help: string) =>
  duration({
    flag: 'max-delay',
    default: value,
    min: '0',
    max: '10m',
    deprecatedMsFlag: 'max-delay-ms',
    help,
  });
const unhealthyAfter = () =>
  duration({
    flag: 'unhealthy-after',
    default: '60s',
    min: '1s',
    max: '24h',
    help: '/healthz answers 503 once zone writes (or preparing the zones directory) have failed this long without a break',
  });
const listen = (value: string) =>
  text({
    default: value,
    allowed: "host:port, :port or a port; '' turns it off",
    check: notListenable,
    help: 'address for /healthz, /readyz (ready once the first complete zone is on disk) and /metrics',
  });
/** `--reverse-zone`, the same for both watchers: each item is checked by the zone package's range parser. */
/** The zone package's range parser, as an option check: its message, or undefined when the ranges are good. */
function reverseRangeProblem(items: readonly string[]): string | undefined {
  try {
    parseReverseRanges(items);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

const reverseZone = () =>
  list({
    env: ['ZONEWRIGHT_REVERSE_ZONE'],
    allowed: 'CIDR ranges, comma-separated (IPv4 /8 /16 /24, IPv6 on nibbles)',
    help: 'also write one reverse zone (PTR) per range, e.g. 10.10.0.0/16,fd00:10::/48',
    check: (item) => reverseRangeProblem([item]),
    checkAll: reverseRangeProblem,
  });
const once = (help: string) => boolean({ default: false, help });
const allowNonRoutable = () =>
  boolean({ default: false, help: 'keep link-local, loopback and other non-routable addresses' });
const excludeNamespaces = () =>
  list({
    allowed: 'namespace names, comma-separated',
    help: 'VMIs in these namespaces get no records (one VMI opts out with the annotation zonewright.io/exclude: "true")',
  });
const domain = () =>
  text({
    default: '',
    env: ['DOMAIN'],
    help: 'the zone is vm.<domain> (vm when empty), as in KubeSecondaryDNS',
  });

export const MONITOR_OPTIONS = {
  source: choice(['kubernetes', 'directory'] as const, {
    default: 'kubernetes',
    help: 'where VMIs come from: the Kubernetes API, or a folder of VMI objects (offline demo)',
  }),
  vmiDir: text({
    default: 'examples/vmis',
    allowed: 'a directory',
    help: 'with --source directory: folder of VMI YAML/JSON files, watched live',
  }),
  zonesDir: zonesDir('directory the zone file db.<origin> is written to (shared with CoreDNS)'),
  domain: domain(),
  nameServerIp: text({
    env: ['NAME_SERVER_IP', 'POD_IP'],
    allowed: 'an IP address',
    check: notAnAddress,
    defaultText: 'POD_IP; 127.0.0.1 with --source directory',
    help: 'glue address of ns.<origin>; required with --source kubernetes',
  }),
  namespaces: list({
    allowed: 'namespace names, comma-separated',
    defaultText: 'all',
    help: 'watch only these namespaces',
  }),
  excludeNamespaces: excludeNamespaces(),
  ttl: ttl(),
  reverseZone: reverseZone(),
  debounceMs: debounce('200ms', 'quiet time after the last change before the zone is written'),
  maxDelayMs: maxDelay('1s', 'longest a change waits for its write while changes keep coming'),
  unhealthyAfterMs: unhealthyAfter(),
  listen: listen(':9180'),
  kubeconfig: text({
    env: ['KUBECONFIG'],
    allowed: 'a kubeconfig file (KUBECONFIG may list several)',
    defaultText: '~/.kube/config, then in-cluster',
    help: 'where the Kubernetes API is and how to log in',
  }),
  allowNonRoutable: allowNonRoutable(),
  once: once('write the zone once every source has delivered its state, then exit'),
} satisfies OptionTable;

export const RENDER_OPTIONS = {
  vmis: text({
    required: true,
    allowed: "a file, or '-' for standard input",
    help: 'VMI objects (List, single objects, multi-document YAML), e.g. `kubectl get vmi -A -o json`',
  }),
  domain: domain(),
  nameServerIp: text({
    env: ['NAME_SERVER_IP', 'POD_IP'],
    allowed: 'an IP address',
    check: notAnAddress,
    defaultText: '127.0.0.1',
    help: 'glue address of ns.<origin>',
  }),
  ttl: ttl(),
  excludeNamespaces: excludeNamespaces(),
  allowNonRoutable: allowNonRoutable(),
  zonesDir: text({
    allowed: 'a directory',
    defaultText: 'none: print the zone',
    help: 'write db.<origin> there atomically (serial above the one on disk) instead of printing it',
  }),
  serial: integer({ min: 1, max: 4_294_967_295, defaultText: 'the serial rule', help: 'serial of the zone' }),
} satisfies OptionTable;

export const CRI_WATCH_OPTIONS = {
  runtimeEndpoint: text({
    env: ['CONTAINER_RUNTIME_ENDPOINT'],
    allowed: 'unix:///path or /path',
    defaultText: 'CRI_DIR + CRI_FILE, else the containerd, k3s, CRI-O, cri-dockerd sockets',
    help: 'CRI socket of the container runtime',
  }),
  criDir: text({
    env: ['CRI_DIR'],
    allowed: 'a directory',
    help: 'directory of the runtime socket (smarter-dns)',
  }),
  criFile: text({
    env: ['CRI_FILE'],
    allowed: 'a file name',
    help: 'socket file name in --cri-dir (smarter-dns)',
  }),
  intervalMs: duration({
    flag: 'interval',
    default: '1500ms',
    min: '100ms',
    max: '1h',
    help: 'time between ListPodSandbox polls',
  }),
  nodeIp: list({
    env: ['NODE_IP'],
    allowed: 'IP addresses, comma-separated',
    check: (item) => {
      const result = toAddress(item);
      return result.ok ? undefined : `${result.detail}, and hostNetwork pods need the node's real address`;
    },
    help: 'node addresses for hostNetwork pods (downward API status.hostIPs)',
  }),
  clusterDomain: text({
    default: 'cluster.local',
    env: ['CLUSTER_DOMAIN'],
    allowed: 'a domain name',
    help: 'zone origin (the kubelet --cluster-domain)',
  }),
  zonesDir: zonesDir('directory the zone file db.<cluster-domain> is written to'),
  nameServerIp: text({
    allowed: 'an IP address',
    check: notAnAddress,
    defaultText: 'the first --node-ip, else 127.0.0.1',
    help: 'glue address of ns.<cluster-domain>',
  }),
  ttl: ttl(),
  reverseZone: reverseZone(),
  debounceMs: debounce('20ms', 'quiet time after a poll changed something before the zone is written'),
  maxDelayMs: maxDelay('100ms', 'longest a change waits for its write'),
  timeoutMs: duration({
    flag: 'timeout',
    default: '5s',
    min: '100ms',
    max: '10m',
    deprecatedMsFlag: 'timeout-ms',
    help: 'deadline of each CRI call',
  }),
  unhealthyAfterMs: unhealthyAfter(),
  listen: listen(':9181'),
  once: once('write the zone from one poll and exit'),
} satisfies OptionTable;

/** node-setup's options: the names and defaults are node-setup's own (NodeSetupOptions). */
const NODE_SETUP_OWN = {
  clusterDns: text({
    default: DEFAULT_NODE_SETUP_OPTIONS.clusterDns,
    env: ['CLUSTER_DNS'],
    allowed: 'an IP address',
    help: 'address pods and the node query (port 53, UDP+TCP)',
  }),
  localDnsAddress: text({
    default: DEFAULT_NODE_SETUP_OPTIONS.localDnsAddress,
    env: ['LOCAL_DNS_ADDRESS'],
    allowed: 'an IP address',
    defaultText: 'the CNI gateway',
    help: 'node-local DNS address the queries are sent to',
  }),
  localDnsPort: integer({
    default: DEFAULT_NODE_SETUP_OPTIONS.localDnsPort,
    env: ['LOCAL_DNS_PORT'],
    min: 1,
    max: 65_535,
    help: 'node-local DNS port',
  }),
  allowRouteLocalnet: boolean({
    default: DEFAULT_NODE_SETUP_OPTIONS.allowRouteLocalnet,
    help: 'accept a loopback local DNS address (pod traffic then needs route_localnet=1: a security hazard)',
  }),
  iptablesBackend: choice(IPTABLES_BACKEND_CHOICES, {
    default: DEFAULT_NODE_SETUP_OPTIONS.iptablesBackend,
    help: 'iptables flavour; auto picks the one the node uses',
  }),
  dnsRedirect: boolean({
    default: DEFAULT_NODE_SETUP_OPTIONS.dnsRedirect,
    help: 'manage the cluster DNS redirect (--no-dns-redirect to skip)',
  }),
  cni: boolean({
    default: DEFAULT_NODE_SETUP_OPTIONS.cni,
    help: 'manage the bridge CNI conflist (--no-cni to skip)',
  }),
  cniBridgeSetup: boolean({
    default: DEFAULT_NODE_SETUP_OPTIONS.cniBridgeSetup,
    help: 'create the CNI bridge with the gateway address at install, so the node-local DNS can bind it before the first pod',
  }),
  cniConfDir: text({
    default: DEFAULT_NODE_SETUP_OPTIONS.cniConfDir,
    env: ['CNI_CONF_DIR'],
    allowed: 'an absolute path',
    help: 'CNI config directory',
  }),
  cniConfName: text({
    default: DEFAULT_NODE_SETUP_OPTIONS.cniConfName,
    allowed: 'a file name ending in .conflist',
    help: 'file name of the conflist (runtimes use the first config by name)',
  }),
  cniNetworkName: text({
    default: DEFAULT_NODE_SETUP_OPTIONS.cniNetworkName,
    allowed: 'a plain name',
    help: "CNI network name (also host-local's state directory)",
  }),
  cniBridge: text({
    default: DEFAULT_NODE_SETUP_OPTIONS.cniBridge,
    allowed: 'an interface name, at most 15 characters',
    help: 'bridge interface name',
  }),
  cniSubnet: text({
    default: DEFAULT_NODE_SETUP_OPTIONS.cniSubnet,
    env: ['CNI_SUBNET'],
    allowed: 'an IPv4 CIDR',
    help: 'pod IPv4 subnet (as smarter-cni)',
  }),
  cniGateway: text({
    default: DEFAULT_NODE_SETUP_OPTIONS.cniGateway,
    env: ['CNI_GATEWAY'],
    allowed: 'an IPv4 address in the subnet',
    help: 'bridge gateway address: not the network or broadcast address',
  }),
  cniIpv6Range: text({
    default: DEFAULT_NODE_SETUP_OPTIONS.cniIpv6Range,
    env: ['CNI_IPV6_RANGE'],
    allowed: 'an IPv6 CIDR',
    defaultText: 'none: IPv4 only',
    help: 'optional pod IPv6 range',
  }),
  force: boolean({
    default: DEFAULT_NODE_SETUP_OPTIONS.force,
    help: 'replace or delete a different existing CNI config (backed up first)',
  }),
  resolver: boolean({
    default: DEFAULT_NODE_SETUP_OPTIONS.resolver,
    help: 'manage the systemd-resolved drop-in (a dry run unless --resolver-apply)',
  }),
  resolverApply: boolean({
    default: DEFAULT_NODE_SETUP_OPTIONS.resolverApply,
    help: 'really write the resolver drop-in and restart systemd-resolved',
  }),
  resolverRevert: boolean({
    flag: 'revert',
    env: ['ZONEWRIGHT_RESOLVER_REVERT'],
    default: DEFAULT_NODE_SETUP_OPTIONS.resolverRevert,
    help: 'restore the resolver drop-in from its latest backup',
  }),
  clusterDomain: text({
    default: DEFAULT_NODE_SETUP_OPTIONS.clusterDomain,
    env: ['CLUSTER_DOMAIN'],
    allowed: 'a domain name',
    help: 'domain routed to the node-local DNS by the resolver drop-in',
  }),
  hostRoot: text({
    default: DEFAULT_NODE_SETUP_OPTIONS.hostRoot,
    env: ['HOST_ROOT'],
    allowed: 'an absolute path',
    help: "the node's root filesystem as mounted in the container (the resolver drop-in lives below it)",
  }),
} satisfies { readonly [K in keyof NodeSetupOptions]: OptionSpec<NodeSetupOptions[K]> };

export const NODE_SETUP_OPTION_KEYS = Object.freeze(
  Object.keys(NODE_SETUP_OWN),
) as readonly (keyof NodeSetupOptions)[];

export const NODE_SETUP_OPTIONS = {
  dryRun: boolean({ default: false, help: 'print exactly what would change and change nothing' }),
  ...NODE_SETUP_OWN,
} satisfies OptionTable;

const originOption = () =>
  text({ allowed: 'a domain name', help: 'origin of a file with no $ORIGIN whose name is not db.<origin>' });

export const INSPECT_OPTIONS = {
  json: boolean({ default: false, help: 'machine-readable output (see README)' }),
  name: text({
    allowed: 'a domain name',
    help: 'answer for this name like a DNS server: records, NXDOMAIN or NODATA',
  }),
  type: text({
    allowed: 'a record type',
    defaultText: 'all',
    help: 'with --name: the record type asked for',
  }),
  origin: originOption(),
} satisfies OptionTable;

export const CHECK_OPTIONS = {
  origin: originOption(),
  quiet: boolean({ default: false, help: 'print problems only' }),
} satisfies OptionTable;

/** Each command's own options (the global ones come on top). */
export const COMMAND_OPTIONS: Readonly<Record<string, OptionTable>> = Object.freeze({
  monitor: MONITOR_OPTIONS,
  render: RENDER_OPTIONS,
  'cri-watch': CRI_WATCH_OPTIONS,
  'node-setup': NODE_SETUP_OPTIONS,
  inspect: INSPECT_OPTIONS,
  check: CHECK_OPTIONS,
});

/** Every boolean flag of every command (for {@link normalizeBooleanFlags}). */
export function booleanFlags(): ReadonlySet<string> {
  const flags = new Set<string>();
  for (const table of [GLOBAL_OPTIONS, ...Object.values(COMMAND_OPTIONS)]) {
    for (const [key, spec] of Object.entries<AnyOption>(table)) {
      if (spec.kind === 'boolean') flags.add(flagOf(key, spec));
    }
  }
  return flags;
}
