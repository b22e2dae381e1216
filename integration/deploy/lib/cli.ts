/** Reads the real zonewright CLI's flags from its `--help` output (the built CLI, as the images run it). */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const CLI_ENTRYPOINT = 'packages/cli/bin/zonewright.js';

/** Builds the CLI with the project build CI runs (tsc -b), unless its output is already there. */
export async function ensureCliBuilt(repoRoot: string): Promise<void> {
  if (existsSync(join(repoRoot, 'packages/cli/dist/main.js'))) return;
  await run(join(repoRoot, 'node_modules/.bin/tsc'), ['-b', 'packages/cli'], { cwd: repoRoot });
}

/** `zonewright <command…> --help`, as text. */
export async function cliHelp(repoRoot: string, command: readonly string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI_ENTRYPOINT, ...command, '--help'], {
    cwd: repoRoot,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/' },
  });
  return stdout;
}

/** Long flag names a help text lists (`--zones-dir` → "zones-dir"); `--no-x` forms are added for booleans. */
export function flagsInHelp(help: string): Set<string> {
  const flags = new Set<string>();
  for (const line of help.split('\n')) {
    const match = /^\s+(?:-\w, )?--([a-z][a-z0-9-]*)/.exec(line);
    if (match?.[1] !== undefined) {
      flags.add(match[1]);
      if (line.includes('[boolean]')) flags.add(`no-${match[1]}`);
    }
  }
  return flags;
}

/** Flag names used in container args: `--name=value` or `--name value` → "name". */
export function flagsInArgs(args: readonly string[]): string[] {
  return args.filter((arg) => arg.startsWith('--')).map((arg) => arg.slice(2).split('=')[0] ?? '');
}

/** The value of `--name=value` or `--name value` in args. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] ?? '';
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
    if (arg === `--${name}`) return args[index + 1];
  }
  return undefined;
}

/** The `[default: …]` of a flag in a help text (yargs may wrap it onto the next lines), without quotes. */
export function helpDefault(help: string, name: string): string | undefined {
  const lines = help.split('\n');
  const start = lines.findIndex((candidate) => new RegExp(`^\\s+(?:-\\w, )?--${name}\\b`).test(candidate));
  if (start < 0) return undefined;
  const end = lines.findIndex((candidate, index) => index > start && /^\s+(?:-\w, )?--[a-z]/.test(candidate));
  const text = lines.slice(start, end < 0 ? undefined : end).join(' ');
  const match = /\[default: ("?)([^\]]*?)\1\]/.exec(text);
  return match?.[2];
}
