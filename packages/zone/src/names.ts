import { InvalidNameError } from './errors.js';
import type { SkipReason } from './skip.js';

/**
 * Name policy (documented in packages/zone/README.md):
 * - a label is 1–63 characters of `[a-z0-9-]`, neither starting nor ending with `-`;
 * - ASCII upper case is folded to lower case and `_` becomes `-` (guest agents report names such as `Eth_1`);
 * - every other character (dots, white space, `;`, `$`, `(`, `)`, `"`, `\`, `@`, control characters,
 *   non-ASCII) makes the input unusable: it is rejected with a reason, never rewritten, so two different
 *   inputs can only collide through case or `_`/`-`;
 * - a whole name (labels plus origin) is at most 253 characters.
 */
const LABEL_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const RELATIVE_NAME_PATTERN =
  /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export const MAX_LABEL_LENGTH = 63;
export const MAX_NAME_LENGTH = 253;

export type LabelResult =
  | { readonly ok: true; readonly label: string }
  | { readonly ok: false; readonly reason: SkipReason; readonly detail: string };

export type OwnerNameResult =
  | { readonly ok: true; readonly name: string }
  | { readonly ok: false; readonly reason: SkipReason; readonly detail: string };

/** How a character is shown in messages: printable ASCII quoted, everything else as U+XXXX. */
export function describeCharacter(character: string): string {
  const code = character.codePointAt(0) ?? 0;
  if (code > 0x20 && code < 0x7f) return JSON.stringify(character);
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Decides whether an arbitrary input string becomes a DNS label, and which one. */
export function toLabel(input: string): LabelResult {
  if (input.length === 0) return { ok: false, reason: 'invalid-name', detail: 'empty label' };
  let label = '';
  let position = 0;
  for (const character of input) {
    const code = character.codePointAt(0) ?? 0;
    if ((code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === 0x2d) {
      label += character;
    } else if (code >= 0x41 && code <= 0x5a) {
      label += String.fromCharCode(code + 0x20);
    } else if (code === 0x5f) {
      label += '-';
    } else {
      return {
        ok: false,
        reason: 'invalid-name',
        detail: `character ${describeCharacter(character)} at position ${position} is not allowed in a DNS label`,
      };
    }
    position += 1;
  }
  if (label.length > MAX_LABEL_LENGTH) {
    return {
      ok: false,
      reason: 'name-too-long',
      detail: `label is ${label.length} characters, at most ${MAX_LABEL_LENGTH} are allowed`,
    };
  }
  if (label.startsWith('-') || label.endsWith('-')) {
    return { ok: false, reason: 'invalid-name', detail: 'a label may not start or end with "-" (or "_")' };
  }
  return { ok: true, label };
}

/** True for an owner name relative to an origin: one or more valid labels joined by dots. */
export function isValidRelativeName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && RELATIVE_NAME_PATTERN.test(name);
}

/** Length of `<relative>.<origin>` without the trailing root dot. */
export function absoluteNameLength(relative: string, origin: string): number {
  return origin.length === 0 ? relative.length : relative.length + 1 + origin.length;
}

/** Joins labels (each from {@link toLabel}) into an owner name relative to `origin`, checking the total length. */
export function joinOwnerName(labels: readonly string[], origin: string): OwnerNameResult {
  if (labels.length === 0) return { ok: false, reason: 'invalid-name', detail: 'no labels' };
  for (const label of labels) {
    if (!LABEL_PATTERN.test(label)) {
      return { ok: false, reason: 'invalid-name', detail: `${JSON.stringify(label)} is not a valid label` };
    }
  }
  const name = labels.join('.');
  const length = absoluteNameLength(name, origin);
  if (length > MAX_NAME_LENGTH) {
    return {
      ok: false,
      reason: 'name-too-long',
      detail: `${name}.${origin} is ${length} characters, at most ${MAX_NAME_LENGTH} are allowed`,
    };
  }
  return { ok: true, name };
}

/**
 * Normalizes a zone origin given by an operator: lower case, no trailing dot. Throws
 * {@link InvalidNameError} naming what is wrong; unlike {@link toLabel} nothing is rewritten but case.
 */
export function normalizeOrigin(input: string): string {
  const trimmed = input.endsWith('.') ? input.slice(0, -1) : input;
  if (trimmed.length === 0) throw new InvalidNameError('zone origin is empty');
  const origin = trimmed.toLowerCase();
  if (origin.length > MAX_NAME_LENGTH) {
    throw new InvalidNameError(
      `zone origin ${JSON.stringify(input)} is longer than ${MAX_NAME_LENGTH} characters`,
    );
  }
  for (const label of origin.split('.')) {
    if (!LABEL_PATTERN.test(label)) {
      throw new InvalidNameError(
        `zone origin ${JSON.stringify(input)} has an invalid label ${JSON.stringify(label)}: labels are 1-63 characters of a-z, 0-9 and "-", not starting or ending with "-"`,
      );
    }
  }
  return origin;
}

/** The file a zone is stored in: `db.<origin>` (what CoreDNS's `auto` plugin matches with `^db\.(.*)$`). */
export function zoneFileName(origin: string): string {
  return `db.${origin}`;
}
