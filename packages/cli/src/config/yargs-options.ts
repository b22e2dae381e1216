/** Declares an option table to yargs: yargs only splits argv and prints --help; parsing is the table's. */
import type { Argv } from 'yargs';
import {
  defaultTextOf,
  envNameOfFlag,
  envNamesOf,
  flagOf,
  type AnyOption,
  type OptionTable,
} from './option-table.js';

/** The --help text of one option: what it does, what is allowed, its env names. */
export function describeOption(key: string, spec: AnyOption): string {
  return `${spec.help}; ${spec.allowed} [env: ${envNamesOf(key, spec).join(', ')}]`;
}

export function declareOptions<T>(argv: Argv<T>, table: OptionTable): Argv<T> {
  let declared = argv;
  for (const [key, spec] of Object.entries(table)) {
    const flag = flagOf(key, spec);
    declared = declared.option(flag, {
      type: spec.kind === 'boolean' ? 'boolean' : 'string',
      ...(spec.kind === 'list' ? { array: true } : {}),
      describe: describeOption(key, spec),
      defaultDescription: spec.required === true ? 'required' : defaultTextOf(spec),
      ...(spec.global === true ? { global: true } : {}),
    });
    for (const old of spec.deprecated ?? []) {
      declared = declared.option(old.flag, {
        type: 'string',
        describe: `${old.allowed}; deprecated: use --${flag} [env: ${envNameOfFlag(old.flag)}]`,
        deprecated: `use --${flag}`,
      });
    }
  }
  return declared;
}
