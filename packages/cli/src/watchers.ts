import { parseReverseRanges, type ReverseRange } from '@zonewright/zone';
import type { Argv } from 'yargs';
import {
  declareNodeSetupFlags,
  NODE_SETUP_ACTIONS,
  nodeSetupOptionsFromArgs,
  runNodeSetupCommand,
} from './commands/node-setup.js';
import { UsageError } from './errors.js';
import { componentLogger, createLogger, type LogFormat, type LogLevel } from './logging.js';
import { ZoneMetrics } from './metrics.js';

interface GlobalArgs {
  readonly logFormat: LogFormat;
  readonly logLevel: LogLevel;
}

function list(value: string | readonly string[] | undefined): string[] {
  const items = (Array.isArray(value) ? value : [value ?? '']) as string[];
  return items
    .flatMap((item) => item.split(','))
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function positiveMs(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0 || value > 600_000)
    throw new UsageError(`--${name} must be 0-600000 ms, got ${value}`);
  return value;
}

function ttl(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 2147483647)
    throw new UsageError(`--ttl must be a whole number of seconds, got ${value}`);
  return value;
}

/** `2s`, `500ms`, `1m` or a plain number of milliseconds. */
function duration(name: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (match === null)
    throw new UsageError(`--${name} ${JSON.stringify(value)} is not a duration like 2s or 500ms`);
  const factor = match[2] === 's' ? 1000 : match[2] === 'm' ? 60_000 : 1;
  const ms = Number(match[1]) * factor;
  if (ms < 100 || ms > 3_600_000)
    throw new UsageError(`--${name} must be between 100ms and 1h, got ${value}`);
  return ms;
}

/** `--reverse-zone` (or ZONEWRIGHT_REVERSE_ZONE), the same for both watchers. */
const REVERSE_ZONE_OPTION = {
  type: 'string',
  array: true,
  default: [] as string[],
  describe:
    'Also write one reverse zone (PTR) per range, e.g. 10.10.0.0/16,fd00:10::/48 (IPv4 /8 /16 /24, IPv6 on nibbles); env ZONEWRIGHT_REVERSE_ZONE',
} as const;

function reverseRanges(values: readonly string[]): ReverseRange[] {
  const given = values.length > 0 ? values : [process.env.ZONEWRIGHT_REVERSE_ZONE ?? ''];
  try {
    return parseReverseRanges(given);
  } catch (error) {
    throw new UsageError(`--reverse-zone: ${(error as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `--unhealthy-after`, the same for every long-running watcher. */
const UNHEALTHY_AFTER_OPTION = {
  type: 'string',
  default: '60s',
  describe: '/healthz answers 503 once zone writes have failed this long without a break',
} as const;

/** Registers the long-running and one-shot watcher commands (monitor, render, cri-watch, node-setup). */
export function registerWatcherCommands(cli: Argv): Argv {
  return cli
    .command(
      'monitor',
      'StatusMonitor: keep zone vm.<DOMAIN> with <iface>.<vmi>.<namespace> and <vmi>.<namespace> for KubeVirt VMIs',
      (command) =>
        command
          .option('source', {
            choices: ['kubernetes', 'directory'] as const,
            default: 'kubernetes' as const,
            describe: 'Where VMIs come from: the Kubernetes API, or a folder of VMI objects (offline demo)',
          })
          .option('vmi-dir', {
            type: 'string',
            default: 'examples/vmis',
            describe: 'With --source directory: folder of VMI YAML/JSON files, watched live',
          })
          .option('zones-dir', {
            type: 'string',
            default: '/zones',
            describe: 'Directory the zone file db.<origin> is written to (shared with CoreDNS)',
          })
          .option('domain', {
            type: 'string',
            describe: 'Zone is vm.<domain> (vm when empty); env DOMAIN as in KubeSecondaryDNS',
          })
          .option('name-server-ip', {
            type: 'string',
            describe: 'Glue address of ns.<origin>; env NAME_SERVER_IP, default env POD_IP',
          })
          .option('namespaces', {
            type: 'string',
            array: true,
            default: [] as string[],
            describe: 'Watch only these namespaces (comma-separated or repeated); default all',
          })
          .option('exclude-namespaces', {
            type: 'string',
            array: true,
            default: [] as string[],
            describe: 'VMIs in these namespaces get no records',
          })
          .option('ttl', { type: 'number', default: 30, describe: 'TTL of every record, seconds' })
          .option('reverse-zone', REVERSE_ZONE_OPTION)
          .option('debounce-ms', {
            type: 'number',
            default: 200,
            describe: 'Quiet time after the last change before the zone is written',
          })
          .option('max-delay-ms', {
            type: 'number',
            default: 1000,
            describe: 'Longest a change waits for its write while changes keep coming',
          })
          .option('unhealthy-after', UNHEALTHY_AFTER_OPTION)
          .option('listen', {
            type: 'string',
            default: ':9180',
            describe: "Address for /healthz, /readyz and /metrics ('' turns it off)",
          })
          .option('kubeconfig', {
            type: 'string',
            describe: 'kubeconfig file; default $KUBECONFIG, ~/.kube/config, then in-cluster',
          })
          .option('allow-non-routable', {
            type: 'boolean',
            default: false,
            describe: 'Keep link-local, loopback and other non-routable addresses',
          })
          .option('once', {
            type: 'boolean',
            default: false,
            describe: 'Write the zone once every source has delivered its state, then exit',
          }),
      async (args) => {
        // Loaded only when the command runs: @kubernetes/client-node alone takes ~1 s to import.
        const { runMonitor, resolveNameServerIp } = await import('./commands/monitor.js');
        const global = args as unknown as GlobalArgs;
        const root = createLogger({ format: global.logFormat, level: global.logLevel });
        const source = args.source;
        await runMonitor(
          {
            source,
            vmiDir: args.vmiDir,
            zonesDir: args.zonesDir,
            domain: args.domain ?? process.env.DOMAIN ?? '',
            nameServerIp: resolveNameServerIp(args.nameServerIp, process.env, source),
            namespaces: list(args.namespaces),
            excludeNamespaces: list(args.excludeNamespaces),
            ttl: ttl(args.ttl),
            reverseRanges: reverseRanges(args.reverseZone),
            debounceMs: positiveMs('debounce-ms', args.debounceMs),
            maxDelayMs: positiveMs('max-delay-ms', args.maxDelayMs),
            listen: args.listen,
            unhealthyAfterMs: duration('unhealthy-after', args.unhealthyAfter),
            kubeconfig: args.kubeconfig,
            allowNonRoutable: args.allowNonRoutable,
            once: args.once,
          },
          componentLogger(root, 'monitor'),
          new ZoneMetrics(),
        );
      },
    )
    .command(
      'render',
      'Render the VMI zone once from `kubectl get vmi -A -o json` output (or YAML) and print or write it',
      (command) =>
        command
          .option('vmis', {
            type: 'string',
            demandOption: true,
            describe:
              "File with VMI objects (List, single objects, multi-document YAML); '-' reads standard input",
          })
          .option('domain', { type: 'string', describe: 'Zone is vm.<domain>; env DOMAIN' })
          .option('name-server-ip', {
            type: 'string',
            describe: 'Glue address of ns.<origin>; env NAME_SERVER_IP, POD_IP, else 127.0.0.1',
          })
          .option('ttl', { type: 'number', default: 30 })
          .option('exclude-namespaces', { type: 'string', array: true, default: [] as string[] })
          .option('allow-non-routable', { type: 'boolean', default: false })
          .option('zones-dir', {
            type: 'string',
            describe: 'Write db.<origin> there atomically (serial above the one on disk) instead of printing',
          })
          .option('serial', { type: 'number', describe: 'Serial to use (default: the serial rule)' }),
      async (args) => {
        const global = args as unknown as GlobalArgs;
        const root = createLogger({ format: global.logFormat, level: global.logLevel });
        const { runRender } = await import('./commands/monitor.js');
        await runRender(
          {
            vmis: args.vmis,
            domain: args.domain ?? process.env.DOMAIN ?? '',
            nameServerIp: args.nameServerIp ?? process.env.NAME_SERVER_IP ?? process.env.POD_IP,
            ttl: ttl(args.ttl),
            excludeNamespaces: list(args.excludeNamespaces),
            allowNonRoutable: args.allowNonRoutable,
            zonesDir: args.zonesDir,
            serial: args.serial,
          },
          componentLogger(root, 'render'),
          (text) => process.stdout.write(text),
          readStdin,
        );
      },
    )
    .command(
      'cri-watch',
      'CRI watcher: keep the node-local pod zone (<hostname>, <hostname>.svc, <hostname>.<namespace>.svc) from the runtime',
      (command) =>
        command
          .option('runtime-endpoint', {
            type: 'string',
            describe:
              'CRI socket (unix:///path or /path); default: CRI_DIR + CRI_FILE, else containerd, k3s, CRI-O, cri-dockerd sockets',
          })
          .option('cri-dir', {
            type: 'string',
            describe: 'Directory of the runtime socket (smarter-dns CRI_DIR); env CRI_DIR',
          })
          .option('cri-file', {
            type: 'string',
            describe: 'Socket file name in --cri-dir (smarter-dns CRI_FILE); env CRI_FILE',
          })
          .option('interval', {
            type: 'string',
            default: '2s',
            describe: 'Time between ListPodSandbox polls (e.g. 2s, 500ms)',
          })
          .option('node-ip', {
            type: 'string',
            array: true,
            default: [] as string[],
            describe:
              'Node addresses for hostNetwork pods (downward API status.hostIPs); env NODE_IP, comma-separated',
          })
          .option('cluster-domain', {
            type: 'string',
            describe: 'Zone origin; env CLUSTER_DOMAIN, default cluster.local',
          })
          .option('zones-dir', {
            type: 'string',
            default: '/zones',
            describe: 'Directory the zone file db.<cluster-domain> is written to',
          })
          .option('name-server-ip', {
            type: 'string',
            describe: 'Glue address of ns.<cluster-domain> (default: the first --node-ip)',
          })
          .option('ttl', { type: 'number', default: 30, describe: 'TTL of every record, seconds' })
          .option('reverse-zone', REVERSE_ZONE_OPTION)
          .option('debounce-ms', {
            type: 'number',
            default: 20,
            describe: 'Quiet time after a poll changed something before the zone is written',
          })
          .option('max-delay-ms', {
            type: 'number',
            default: 100,
            describe: 'Longest a change waits for its write',
          })
          .option('timeout-ms', { type: 'number', default: 5000, describe: 'Deadline of each CRI call' })
          .option('unhealthy-after', UNHEALTHY_AFTER_OPTION)
          .option('listen', {
            type: 'string',
            default: ':9181',
            describe: "Address for /healthz, /readyz and /metrics ('' turns it off)",
          })
          .option('once', {
            type: 'boolean',
            default: false,
            describe: 'Write the zone from one poll and exit',
          }),
      async (args) => {
        const global = args as unknown as GlobalArgs;
        const root = createLogger({ format: global.logFormat, level: global.logLevel });
        const { parseNodeIps, runCriWatch } = await import('./commands/cri-watch.js');
        await runCriWatch(
          {
            runtimeEndpoint: args.runtimeEndpoint ?? process.env.CONTAINER_RUNTIME_ENDPOINT,
            criDir: args.criDir ?? process.env.CRI_DIR,
            criFile: args.criFile ?? process.env.CRI_FILE,
            intervalMs: duration('interval', args.interval),
            nodeIps: parseNodeIps(list(args.nodeIp.length > 0 ? args.nodeIp : (process.env.NODE_IP ?? ''))),
            // A flag wins over CLUSTER_DOMAIN (also when it names the default), as for --domain/DOMAIN.
            clusterDomain: args.clusterDomain ?? process.env.CLUSTER_DOMAIN ?? 'cluster.local',
            zonesDir: args.zonesDir,
            nameServerIp: args.nameServerIp,
            ttl: ttl(args.ttl),
            reverseRanges: reverseRanges(args.reverseZone),
            debounceMs: positiveMs('debounce-ms', args.debounceMs),
            maxDelayMs: positiveMs('max-delay-ms', args.maxDelayMs),
            listen: args.listen,
            unhealthyAfterMs: duration('unhealthy-after', args.unhealthyAfter),
            once: args.once,
            timeoutMs: positiveMs('timeout-ms', args.timeoutMs),
          },
          componentLogger(root, 'cri-watch'),
          new ZoneMetrics(),
        );
      },
    )
    .command(
      'node-setup [action]',
      'Node init: the DNS redirect to the node-local CoreDNS, the bridge CNI config and (optionally) the node resolver',
      (command) =>
        declareNodeSetupFlags(
          command
            .positional('action', {
              choices: NODE_SETUP_ACTIONS,
              default: 'install' as const,
              describe:
                'install (idempotent), remove (exactly what install added), check (exit 1 on anything missing or extra)',
            })
            .option('dry-run', {
              type: 'boolean',
              default: false,
              describe: 'Print exactly what would change and change nothing',
            }),
        ),
      async (args) => {
        const global = args as unknown as GlobalArgs;
        const root = createLogger({ format: global.logFormat, level: global.logLevel });
        await runNodeSetupCommand(
          args.action,
          args.dryRun,
          nodeSetupOptionsFromArgs(args, process.env),
          componentLogger(root, 'node-setup'),
          (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
        );
      },
    );
}
