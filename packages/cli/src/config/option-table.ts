/**
 * The declarative option table every command is configured from. Each option is declared once (flag, env names,
 * type, unit, default, range, help); one parser turns flags and environment variables into a frozen config with
 * one precedence rule (flag, then env, then default) and one syntax per type. Pure: no yargs, no process.
 */
import { UsageError } from '../errors.js';

export type OptionKind = 'string' | 'integer' | 'boolean' | 'duration' | 'choice' | 'list';

export type Parsed<V> =
  { readonly ok: true; readonly value: V } | { readonly ok: false; readonly why?: string };

/** An old flag name that still works, with a warning; its value is converted to the option's syntax. */
export interface DeprecatedFlag {
  /** The old flag, without dashes (e.g. `debounce-ms`); `ZONEWRIGHT_<FLAG>` is its env name. */
  readonly flag: string;
  /** What the old flag takes, for the error message (e.g. `a number of milliseconds`). */
  readonly allowed: string;
  /** The old value in the option's syntax (`200` → `200ms`), or undefined when it is not valid. */
  readonly convert: (text: string) => string | undefined;
}

export interface OptionSpec<V> {
  readonly kind: OptionKind;
  /** One sentence: what the option does. */
  readonly help: string;
  /** Long flag without dashes; default: the table key in kebab-case. */
  readonly flag?: string;
  /** Compatibility env names read after `ZONEWRIGHT_<FLAG>`, in this order (e.g. `DOMAIN`, `POD_IP`). */
  readonly env?: readonly string[];
  readonly default: V;
  /** The default as a person reads it, when it is not simply the value (`all`, `the first --node-ip`). */
  readonly defaultText?: string;
  /** What is allowed, for errors, --help and the README (e.g. `a duration 0-10m: 200ms, 2s, 1m`). */
  readonly allowed: string;
  readonly required?: boolean;
  /** Declared on every command (the log options). */
  readonly global?: boolean;
  readonly deprecated?: readonly DeprecatedFlag[];
  readonly parse: (text: string) => Parsed<V>;
}

export type AnyOption = OptionSpec<unknown>;
export type OptionTable = Readonly<Record<string, AnyOption>>;
export type ConfigOf<T extends OptionTable> = {
  readonly [K in keyof T]: T[K] extends OptionSpec<infer V> ? V : never;
};

/** Where a value came from: `--flag`, an env variable name, or `default`. */
export type OptionSources<T extends OptionTable> = { readonly [K in keyof T]: string };

export interface ResolvedOptions<T extends OptionTable> {
  readonly values: ConfigOf<T>;
  readonly sources: OptionSources<T>;
  /** Deprecated names that were used, one sentence each (the CLI logs them as warnings). */
  readonly warnings: readonly string[];
}

/** A bad flag or environment value: one line naming it, the value and what is allowed (exit code 2). */
export class InvalidOptionValueError extends UsageError {
  override readonly name = 'InvalidOptionValueError';
}

export type Environment = Readonly<Record<string, string | undefined>>;

const ok = <V>(value: V): Parsed<V> => ({ ok: true, value });
const bad = (why?: string): Parsed<never> => (why === undefined ? { ok: false } : { ok: false, why });

export function kebabCase(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

export function flagOf(key: string, spec: AnyOption): string {
  return spec.flag ?? kebabCase(key);
}

export function envNameOfFlag(flag: string): string {
  return `ZONEWRIGHT_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** Every env name of an option, in the order they are read: `ZONEWRIGHT_<FLAG>` first. */
export function envNamesOf(key: string, spec: AnyOption): readonly string[] {
  return [envNameOfFlag(flagOf(key, spec)), ...(spec.env ?? [])];
}

// ---- one syntax per type ----------------------------------------------------------------------------------

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);
export const BOOLEAN_ALLOWED = 'true or false (also 1/0, yes/no, on/off)';

export function parseBoolean(text: string): Parsed<boolean> {
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return ok(true);
  if (FALSE_WORDS.has(word)) return ok(false);
  return bad();
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `200ms`, `2s`, `1.5s`, `1m`, `1h` (or `0`) → milliseconds; a bare number other than 0 needs a unit. */
export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) return undefined;
  const amount = Number(match[1]);
  if (match[2] === undefined) return amount === 0 ? 0 : undefined;
  const ms = amount * (DURATION_UNITS[match[2]] ?? Number.NaN);
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** Milliseconds as the shortest duration text: 200ms, 2s, 1m, 1h. */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

// ---- builders -----------------------------------------------------------------------------------------------

interface CommonSpec {
  readonly help: string;
  readonly flag?: string;
  readonly env?: readonly string[];
  readonly defaultText?: string;
  readonly global?: boolean;
}

interface TextSpec extends CommonSpec {
  readonly required?: boolean;
  /** What else is wrong with a value, or undefined when it is fine. */
  readonly check?: (value: string) => string | undefined;
  readonly allowed?: string;
}

export function text(
  spec: TextSpec & ({ readonly default: string } | { readonly required: true }),
): OptionSpec<string>;
export function text(spec: TextSpec): OptionSpec<string | undefined>;
export function text(spec: TextSpec & { readonly default?: string }): OptionSpec<string | undefined> {
  const { check, allowed, ...rest } = spec;
  return Object.freeze({
    ...rest,
    kind: 'string',
    default: spec.default,
    allowed: allowed ?? 'text',
    parse: (value: string) => {
      const problem = check?.(value);
      return problem === undefined ? ok(value) : bad(problem);
    },
  });
}

export function integer(
  spec: CommonSpec & {
    readonly min: number;
    readonly max: number;
    readonly unit?: string;
    readonly default: number;
  },
): OptionSpec<number>;
export function integer(
  spec: CommonSpec & { readonly min: number; readonly max: number; readonly unit?: string },
): OptionSpec<number | undefined>;
export function integer(
  spec: CommonSpec & {
    readonly min: number;
    readonly max: number;
    readonly unit?: string;
    readonly default?: number;
  },
): OptionSpec<number | undefined> {
  const { min, max, unit, ...rest } = spec;
  const allowed = `a whole number ${min}-${max}${unit === undefined ? '' : ` (${unit})`}`;
  return Object.freeze({
    ...rest,
    kind: 'integer',
    default: spec.default,
    allowed,
    parse: (value: string) => {
      if (!/^-?\d+$/.test(value.trim())) return bad();
      const number = Number(value.trim());
      return Number.isSafeInteger(number) && number >= min && number <= max ? ok(number) : bad();
    },
  });
}

export function boolean(spec: CommonSpec & { readonly default: boolean }): OptionSpec<boolean> {
  return Object.freeze({ ...spec, kind: 'boolean', allowed: BOOLEAN_ALLOWED, parse: parseBoolean });
}

/** A duration; the value is in milliseconds. `deprecatedMsFlag` keeps an old `--<name>-ms <number>` flag. */
export function duration(
  spec: CommonSpec & {
    readonly default: string;
    readonly min: string;
    readonly max: string;
    readonly deprecatedMsFlag?: string;
  },
): OptionSpec<number> {
  const { min, max, deprecatedMsFlag, ...rest } = spec;
  const minMs = parseDurationMs(min);
  const maxMs = parseDurationMs(max);
  const defaultMs = parseDurationMs(spec.default);
  if (minMs === undefined || maxMs === undefined || defaultMs === undefined)
    throw new TypeError(`bad duration in the option table: ${min}, ${max}, ${spec.default}`);
  const parse = (value: string): Parsed<number> => {
    const ms = parseDurationMs(value);
    return ms !== undefined && ms >= minMs && ms <= maxMs ? ok(ms) : bad();
  };
  return Object.freeze({
    ...rest,
    kind: 'duration',
    default: defaultMs,
    defaultText: spec.defaultText ?? spec.default,
    allowed: `a duration ${min}-${max} (e.g. 200ms, 2s, 1m)`,
    parse,
    ...(deprecatedMsFlag === undefined
      ? {}
      : {
          deprecated: [
            {
              flag: deprecatedMsFlag,
              allowed: `a number of milliseconds ${minMs}-${maxMs}`,
              convert: (value: string) =>
                /^\d+(\.\d+)?$/.test(value.trim()) ? `${value.trim()}ms` : undefined,
            },
          ],
        }),
  });
}

export function choice<const C extends string>(
  choices: readonly C[],
  spec: CommonSpec & { readonly default: C },
): OptionSpec<C> {
  return Object.freeze({
    ...spec,
    kind: 'choice',
    allowed: `one of ${choices.join(', ')}`,
    parse: (value: string) => {
      const found = choices.find((candidate) => candidate === value.trim());
      return found === undefined ? bad() : ok(found);
    },
  });
}

/** Comma-separated (flags may also be repeated); empty items are dropped. */
export function list(
  spec: CommonSpec & {
    readonly allowed?: string;
    readonly check?: (item: string) => string | undefined;
    /** Problems that only the whole list shows (overlaps, too many items); run after every item passed. */
    readonly checkAll?: (items: readonly string[]) => string | undefined;
  },
): OptionSpec<readonly string[]> {
  const { check, checkAll, allowed, ...rest } = spec;
  return Object.freeze({
    ...rest,
    kind: 'list',
    default: Object.freeze([]),
    defaultText: spec.defaultText ?? 'none',
    allowed: allowed ?? 'a comma-separated list',
    parse: (value: string) => {
      const items = value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
      for (const item of items) {
        const problem = check?.(item);
        if (problem !== undefined) return bad(`${allowed ?? 'a comma-separated list'}; ${problem}`);
      }
      const listProblem = checkAll?.(items);
      if (listProblem !== undefined) return bad(`${allowed ?? 'a comma-separated list'}; ${listProblem}`);
      return ok(Object.freeze(items));
    },
  });
}

// ---- resolution ---------------------------------------------------------------------------------------------

/** A flag value as yargs hands it over (string, boolean, or an array for repeated flags) → text. */
function flagText(spec: AnyOption, raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (Array.isArray(raw)) {
    const items = raw.map((item: unknown) => (typeof item === 'string' ? item : JSON.stringify(item)));
    if (items.length === 0) return undefined;
    return spec.kind === 'list' ? items.join(',') : items[items.length - 1];
  }
  return typeof raw === 'string' ? raw : JSON.stringify(raw);
}

function problem(
  where: string,
  value: string,
  spec: AnyOption,
  why: string | undefined,
): InvalidOptionValueError {
  return new InvalidOptionValueError(
    `invalid ${where} ${JSON.stringify(value)}: expected ${why ?? spec.allowed}`,
  );
}

/** `--ttl` or `ZONEWRIGHT_TTL (--ttl)`: how an error names where a value came from. */
export function describeSource(source: string, flag: string): string {
  return source.startsWith('--') || source === 'default' ? `--${flag}` : `${source} (--${flag})`;
}

/**
 * Resolves every option of a table: the flag if given (or a deprecated flag), else the first non-empty env
 * variable (`ZONEWRIGHT_<FLAG>`, then compatibility names, then deprecated names), else the default. The first
 * bad value throws {@link InvalidOptionValueError}; the result is frozen.
 */
export function resolveOptions<T extends OptionTable>(
  table: T,
  flags: Readonly<Record<string, unknown>>,
  env: Environment,
): ResolvedOptions<T> {
  const values: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  const warnings: string[] = [];
  for (const [key, spec] of Object.entries(table)) {
    const flag = flagOf(key, spec);
    /** The text to parse, and for errors: where it came from, what was given there, what is allowed there. */
    let found: { text: string; where: string; source: string; given?: string; allowed?: string } | undefined;
    const given = flagText(spec, flags[flag]);
    if (given !== undefined) found = { text: given, where: `--${flag}`, source: `--${flag}` };
    for (const old of spec.deprecated ?? []) {
      if (found !== undefined) break;
      const oldText = flagText(spec, flags[old.flag]);
      if (oldText === undefined) continue;
      const converted = old.convert(oldText);
      if (converted === undefined) throw problem(`--${old.flag}`, oldText, spec, old.allowed);
      warnings.push(`--${old.flag} is deprecated: use --${flag} ${converted}`);
      found = {
        text: converted,
        where: `--${old.flag}`,
        source: `--${old.flag}`,
        given: oldText,
        allowed: old.allowed,
      };
    }
    if (found === undefined) {
      for (const name of envNamesOf(key, spec)) {
        const value = env[name];
        if (value === undefined || value.trim() === '') continue;
        found = { text: value, where: `${name} (--${flag})`, source: name };
        break;
      }
    }
    for (const old of spec.deprecated ?? []) {
      if (found !== undefined) break;
      const name = envNameOfFlag(old.flag);
      const value = env[name];
      if (value === undefined || value.trim() === '') continue;
      const converted = old.convert(value);
      if (converted === undefined) throw problem(name, value, spec, old.allowed);
      warnings.push(`${name} is deprecated: use ${envNameOfFlag(flag)}=${converted}`);
      found = { text: converted, where: name, source: name, given: value, allowed: old.allowed };
    }
    if (found === undefined) {
      if (spec.required === true) {
        throw new InvalidOptionValueError(
          `missing --${flag}: give the flag or set ${envNamesOf(key, spec).join(' or ')} (${spec.allowed})`,
        );
      }
      values[key] = spec.default;
      sources[key] = 'default';
      continue;
    }
    const parsed = spec.parse(found.text);
    if (!parsed.ok) throw problem(found.where, found.given ?? found.text, spec, found.allowed ?? parsed.why);
    values[key] = parsed.value;
    sources[key] = found.source;
  }
  return Object.freeze({
    values: Object.freeze(values) as ConfigOf<T>,
    sources: Object.freeze(sources) as OptionSources<T>,
    warnings: Object.freeze(warnings),
  });
}

/**
 * yargs reads `--once=yes` or `--once=1` as false. Rewrites `--<boolean flag>=<value>` into `--flag` or
 * `--no-flag` by the one boolean rule, and refuses a value it does not know, naming the flag.
 */
export function normalizeBooleanFlags(argv: readonly string[], booleanFlags: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const [index, arg] of argv.entries()) {
    if (arg === '--') {
      out.push(...argv.slice(index));
      break;
    }
    const match = /^--([a-z0-9-]+)=(.*)$/s.exec(arg);
    if (match === null || !booleanFlags.has(match[1] ?? '')) {
      out.push(arg);
      continue;
    }
    const [, flag = '', value = ''] = match;
    const parsed = parseBoolean(value);
    if (!parsed.ok)
      throw new InvalidOptionValueError(
        `invalid --${flag} ${JSON.stringify(value)}: expected ${BOOLEAN_ALLOWED}`,
      );
    out.push(parsed.value ? `--${flag}` : `--no-${flag}`);
  }
  return out;
}

/** The default as help and docs show it. */
export function defaultTextOf(spec: AnyOption): string {
  if (spec.defaultText !== undefined) return spec.defaultText;
  if (spec.default === undefined) return 'none';
  if (spec.default === '') return 'empty';
  if (Array.isArray(spec.default)) return spec.default.length === 0 ? 'none' : spec.default.join(',');
  return typeof spec.default === 'string' ? spec.default : JSON.stringify(spec.default);
}
