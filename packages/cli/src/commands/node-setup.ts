import type { Argv } from 'yargs';
import {
  createCommandRunner,
  formatNodeSetupReport,
  NODE_SETUP_FLAGS,
  nodeSetupOptionsFromEnv,
  NodeSetupError,
  runNodeSetup,
  type NodeSetupOptions,
} from '@zonewright/node-setup';
import type { Logger } from '@zonewright/zone';
import { ProblemsFoundError, UsageError } from '../errors.js';

export const NODE_SETUP_ACTIONS = ['install', 'remove', 'check'] as const;
export type NodeSetupAction = (typeof NODE_SETUP_ACTIONS)[number];

/** Declares node-setup's flags from the package's own table, so flags, env names and docs never drift. */
export function declareNodeSetupFlags<T>(command: Argv<T>): Argv<T> {
  let declared: Argv<T> = command;
  for (const entry of NODE_SETUP_FLAGS) {
    declared = declared.option(entry.flag, {
      type: entry.type,
      describe: `${entry.description} [env ${entry.env.join(', ')}]`,
    });
  }
  return declared;
}

/** Options from flags (only those given), on top of the environment, on top of the defaults. */
export function nodeSetupOptionsFromArgs(
  args: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Partial<NodeSetupOptions> {
  const options: Record<string, unknown> = { ...nodeSetupOptionsFromEnv(env) };
  for (const entry of NODE_SETUP_FLAGS) {
    const value = args[entry.flag];
    if (value !== undefined) options[entry.option] = value;
  }
  return options;
}

/** `zonewright node-setup install|remove|check [--dry-run]`; ProblemsFoundError (exit 1) when not ok. */
export async function runNodeSetupCommand(
  action: NodeSetupAction,
  dryRun: boolean,
  options: Partial<NodeSetupOptions>,
  logger: Logger,
  out: (text: string) => void,
): Promise<void> {
  let report;
  try {
    report = await runNodeSetup({ action, dryRun, options, runner: createCommandRunner(), logger });
  } catch (error) {
    if (error instanceof NodeSetupError) throw new UsageError(error.message);
    throw error;
  }
  out(formatNodeSetupReport(report));
  if (!report.ok) throw new ProblemsFoundError(`node-setup ${action} found problems`);
}
