import { delimiter } from 'node:path';
import type { Argv } from 'yargs';
import { InvalidOptionError, type NodeSetupOptions } from '@zonewright/node-setup';
import { parseReverseRanges, type Logger } from '@zonewright/zone';
import { NODE_SETUP_ACTIONS, runNodeSetupCommand } from './commands/node-setup.js';
import {
  CRI_WATCH_OPTIONS,
  GLOBAL_OPTIONS,
  MONITOR_OPTIONS,
  NODE_SETUP_OPTION_KEYS,
  NODE_SETUP_OPTIONS,
  RENDER_OPTIONS,
} from './config/command-options.js';
import {
  describeSource,
  flagOf,
  InvalidOptionValueError,
  resolveOptions,
  type ConfigOf,
  type Environment,
  type OptionSources,
  type OptionTable,
} from './config/option-table.js';
import { declareOptions } from './config/yargs-options.js';
import { componentLogger, createLogger } from './logging.js';
import { ZoneMetrics } from './metrics.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export interface Configured<T extends OptionTable> {
  readonly config: ConfigOf<T & typeof GLOBAL_OPTIONS>;
  readonly sources: OptionSources<T & typeof GLOBAL_OPTIONS>;
  readonly logger: Logger;
}

/**
 * Resolves a command's options (plus the global ones) from its flags and the environment, creates the logger,
 * logs deprecated names as warnings and the frozen configuration once, as one line.
 */
export function configure<T extends OptionTable>(
  command: string,
  table: T,
  args: Readonly<Record<string, unknown>>,
  env: Environment,
): Configured<T> {
  const resolved = resolveOptions({ ...GLOBAL_OPTIONS, ...table }, args, env);
  const config = resolved.values as ConfigOf<T & typeof GLOBAL_OPTIONS>;
  const global = resolved.values as ConfigOf<typeof GLOBAL_OPTIONS>;
  const root = createLogger({ format: global.logFormat, level: global.logLevel });
  const logger = componentLogger(root, command);
  for (const warning of resolved.warnings) logger.warn(warning);
  const from = Object.fromEntries(
    Object.entries(resolved.sources).filter(([, source]) => source !== 'default'),
  );
  logger.info(`${command} configuration`, { config, from });
  return { config, sources: resolved.sources, logger };
}

/** A KUBECONFIG that lists several files is left to client-node, which merges them like kubectl. */
function kubeconfigPath(value: string | undefined, source: string): string | undefined {
  if (value === undefined || (source === 'KUBECONFIG' && value.includes(delimiter))) return undefined;
  return value;
}

/** node-setup's own InvalidOptionError names a flag or option key: say where the value came from. */
function nodeSetupProblem(error: InvalidOptionError, sources: Readonly<Record<string, string>>): Error {
  for (const key of NODE_SETUP_OPTION_KEYS) {
    const flag = flagOf(key, NODE_SETUP_OPTIONS[key]);
    if (error.option !== key && error.option !== `--${flag}`) continue;
    return new InvalidOptionValueError(
      `invalid ${describeSource(sources[key] ?? 'default', flag)} ${JSON.stringify(error.value)}: ${error.reason}`,
    );
  }
  return new InvalidOptionValueError(error.message);
}

/** Registers the long-running and one-shot watcher commands (monitor, render, cri-watch, node-setup). */
export function registerWatcherCommands(cli: Argv, env: Environment): Argv {
  return cli
    .command(
      'monitor',
      'StatusMonitor: keep zone vm.<DOMAIN> with <iface>.<vmi>.<namespace> and <vmi>.<namespace> for KubeVirt VMIs',
      (command) => declareOptions(command, MONITOR_OPTIONS),
      async (args) => {
        const { config, sources, logger } = configure('monitor', MONITOR_OPTIONS, args, env);
        // Loaded only when the command runs: @kubernetes/client-node alone takes ~1 s to import.
        const { runMonitor, resolveNameServerIp } = await import('./commands/monitor.js');
        await runMonitor(
          {
            ...config,
            reverseRanges: parseReverseRanges(config.reverseZone),
            nameServerIp: resolveNameServerIp(config.nameServerIp, config.source),
            kubeconfig: kubeconfigPath(config.kubeconfig, sources.kubeconfig),
          },
          logger,
          new ZoneMetrics(),
        );
      },
    )
    .command(
      'render',
      'Render the VMI zone once from `kubectl get vmi -A -o json` output (or YAML) and print or write it',
      (command) => declareOptions(command, RENDER_OPTIONS),
      async (args) => {
        const { config, logger } = configure('render', RENDER_OPTIONS, args, env);
        const { runRender } = await import('./commands/monitor.js');
        await runRender(config, logger, (text) => process.stdout.write(text), readStdin);
      },
    )
    .command(
      'cri-watch',
      'CRI watcher: keep the node-local pod zone (<hostname>, <hostname>.svc, <hostname>.<namespace>.svc) from the runtime',
      (command) => declareOptions(command, CRI_WATCH_OPTIONS),
      async (args) => {
        const { config, logger } = configure('cri-watch', CRI_WATCH_OPTIONS, args, env);
        const { parseNodeIps, runCriWatch } = await import('./commands/cri-watch.js');
        await runCriWatch(
          {
            ...config,
            nodeIps: parseNodeIps(config.nodeIp),
            reverseRanges: parseReverseRanges(config.reverseZone),
          },
          logger,
          new ZoneMetrics(),
        );
      },
    )
    .command(
      'node-setup [action]',
      'Node init: the DNS redirect to the node-local CoreDNS, the bridge CNI config and (optionally) the node resolver',
      (command) =>
        declareOptions(
          command.positional('action', {
            choices: NODE_SETUP_ACTIONS,
            default: 'install' as const,
            describe:
              'install (idempotent), remove (exactly what install added), check (exit 1 on anything missing or extra)',
          }),
          NODE_SETUP_OPTIONS,
        ),
      async (args) => {
        const { config, sources, logger } = configure('node-setup', NODE_SETUP_OPTIONS, args, env);
        const options = Object.fromEntries(
          NODE_SETUP_OPTION_KEYS.map((key) => [key, config[key]]),
        ) as unknown as NodeSetupOptions;
        try {
          await runNodeSetupCommand(args.action, config.dryRun, options, logger, (text) =>
            process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
          );
        } catch (error) {
          if (error instanceof InvalidOptionError) throw nodeSetupProblem(error, sources);
          throw error;
        }
      },
    );
}
