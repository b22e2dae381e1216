/** Runs the built CLI the way users do (its own process, a clean environment) for the CLI option tests. */
import path from 'node:path';
import { findRepoRoot, runCommand, type RunResult } from '@zonewright/testkit';
import {
  COMMAND_OPTIONS,
  envNameOfFlag,
  envNamesOf,
  GLOBAL_OPTIONS,
  type OptionTable,
} from '@zonewright/cli';

export const root = findRepoRoot();
export const cli = path.join(root, 'packages/cli/bin/zonewright.js');

/** Every environment variable any option reads: removed from the test's environment so only ours count. */
function optionEnvNames(): Set<string> {
  const names = new Set<string>();
  for (const table of [GLOBAL_OPTIONS, ...Object.values(COMMAND_OPTIONS)] as OptionTable[]) {
    for (const [key, spec] of Object.entries(table)) {
      for (const name of envNamesOf(key, spec)) names.add(name);
      for (const old of spec.deprecated ?? []) names.add(envNameOfFlag(old.flag));
    }
  }
  return names;
}

const OPTION_ENV = optionEnvNames();

export function cleanEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!OPTION_ENV.has(name) && !name.startsWith('ZONEWRIGHT_')) env[name] = value;
  }
  return { ...env, ...extra };
}

export function runCli(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  timeoutMs = 60_000,
): Promise<RunResult> {
  return runCommand(process.execPath, [cli, ...args], { env: cleanEnv(env), timeoutMs, cwd: root });
}

/** Runs `work` over `items`, at most `limit` at a time (the machine is shared). */
export async function inPool<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The `<command> configuration` line the CLI logs at start (JSON log format). */
export function loggedConfig(stderr: string): {
  config: Record<string, unknown>;
  from: Record<string, string>;
} {
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as {
      message?: string;
      config?: Record<string, unknown>;
      from?: Record<string, string>;
    };
    if (entry.message?.endsWith(' configuration') === true && entry.config !== undefined)
      return { config: entry.config, from: entry.from ?? {} };
  }
  throw new Error(`no configuration line in:\n${stderr}`);
}
