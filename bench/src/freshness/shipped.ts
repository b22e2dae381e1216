// What the shipped manifests and Corefiles say, read from the files themselves so the bench runs what users run.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../common/paths.js';

/** A shipped file does not have the shape this reader expects. */
export class ShippedConfigError extends Error {
  override readonly name = 'ShippedConfigError';
}

/**
 * The block-style `args:` list of container `container` in a manifest (e.g. deploy/node/base/daemonset.yaml),
 * as written (`$(VAR)` references left in).
 */
export function containerArgs(manifest: string, container: string): string[] {
  const file = path.join(repoRoot, manifest);
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((line) => new RegExp(`^\\s*- name: ${container}\\s*$`).test(line));
  if (start < 0) throw new ShippedConfigError(`${manifest} has no container ${container}`);
  const argsAt = lines.findIndex((line, index) => index > start && /^\s*args:\s*$/.test(line));
  if (argsAt < 0)
    throw new ShippedConfigError(`${manifest}: container ${container} has no block-style args list`);
  const args: string[] = [];
  for (const line of lines.slice(argsAt + 1)) {
    const item = /^\s*- (.+?)\s*$/.exec(line)?.[1];
    if (item === undefined) break;
    args.push(item.replace(/^(['"])(.*)\1$/, '$2'));
  }
  if (args.length === 0)
    throw new ShippedConfigError(`${manifest}: container ${container} has an empty args list`);
  return args;
}

/** KEY=value lines of a kustomize env file (comments and blank lines skipped). */
export function envFile(relative: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of readFileSync(path.join(repoRoot, relative), 'utf8').split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined) values[match[1]] = match[2] ?? '';
  }
  return values;
}

/**
 * The shipped args with `$(VAR)` expanded from `env`, and the value of each `--flag=` in `overrides` replaced
 * (a flag not in the shipped list is appended). Throws when a reference has no value.
 */
export function adaptArgs(
  shipped: readonly string[],
  env: Readonly<Record<string, string>>,
  overrides: Readonly<Record<string, string>>,
): string[] {
  const expanded = shipped.map((arg) =>
    arg.replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (_match, name: string) => {
      const value = env[name];
      if (value === undefined) throw new ShippedConfigError(`no value for $(${name}) in ${arg}`);
      return value;
    }),
  );
  const remaining = new Map(Object.entries(overrides));
  const adapted = expanded.map((arg) => {
    const flag = /^(--[a-z0-9-]+)=/.exec(arg)?.[1];
    const value = flag === undefined ? undefined : remaining.get(flag);
    if (flag === undefined || value === undefined) return arg;
    remaining.delete(flag);
    return `${flag}=${value}`;
  });
  return [...adapted, ...[...remaining].map(([flag, value]) => `${flag}=${value}`)];
}

/** The `reload` interval of a shipped Corefile's `auto` block, in ms. */
export function corefileReloadMs(corefile: 'monitor' | 'node'): number {
  const text = readFileSync(path.join(repoRoot, 'corefile', `Corefile.${corefile}`), 'utf8');
  const match = /^\s*reload\s+(\d+(?:\.\d+)?)(ms|s|m)\s*$/m.exec(text.replace(/#.*$/gm, ''));
  if (match?.[1] === undefined)
    throw new ShippedConfigError(`corefile/Corefile.${corefile} has no reload interval`);
  const unit = { ms: 1, s: 1000, m: 60_000 }[match[2] as 'ms' | 's' | 'm'];
  return Number(match[1]) * unit;
}
