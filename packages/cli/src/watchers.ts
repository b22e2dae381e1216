import type { Argv } from 'yargs';

/** Registers the long-running and one-shot watcher commands (monitor, render, cri-watch, node-setup). */
export function registerWatcherCommands(cli: Argv): Argv {
  return cli;
}
