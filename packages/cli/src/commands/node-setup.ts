import {
  createCommandRunner,
  formatNodeSetupReport,
  InvalidOptionError,
  NodeSetupError,
  runNodeSetup,
  type NodeSetupOptions,
} from '@zonewright/node-setup';
import type { Logger } from '@zonewright/zone';
import { ProblemsFoundError, UsageError } from '../errors.js';

export const NODE_SETUP_ACTIONS = ['install', 'remove', 'check'] as const;
export type NodeSetupAction = (typeof NODE_SETUP_ACTIONS)[number];

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
    // A bad option goes up as it is: the CLI names the flag or env variable it came from.
    if (error instanceof InvalidOptionError) throw error;
    if (error instanceof NodeSetupError) throw new UsageError(error.message);
    throw error;
  }
  out(formatNodeSetupReport(report));
  if (!report.ok) throw new ProblemsFoundError(`node-setup ${action} found problems`);
}
