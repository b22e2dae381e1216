/** Why an input did not become a record. Used as a metric label: keep the set small and stable. */
export type SkipReason =
  | 'invalid-name'
  | 'name-too-long'
  | 'reserved-name'
  | 'invalid-address'
  | 'non-routable-address'
  | 'conflict';

export const SKIP_REASONS: readonly SkipReason[] = Object.freeze([
  'invalid-name',
  'name-too-long',
  'reserved-name',
  'invalid-address',
  'non-routable-address',
  'conflict',
]);

/** An input that was left out of the zone, and why. `object` names where it came from (e.g. `ns/vmi`). */
export interface SkippedRecord {
  readonly reason: SkipReason;
  readonly detail: string;
  readonly object?: string;
}
