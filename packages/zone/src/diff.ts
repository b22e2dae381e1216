import type { AddressRecord } from './model.js';

export interface RecordDiff {
  readonly added: number;
  readonly removed: number;
}

export function recordKey(record: AddressRecord): string {
  return `${record.name} ${record.type} ${record.address}`;
}

/** Counts records added and removed between two record sets (as sets of name/type/address). */
export function diffRecordKeys(previous: ReadonlySet<string>, next: ReadonlySet<string>): RecordDiff {
  let added = 0;
  let removed = 0;
  for (const key of next) if (!previous.has(key)) added += 1;
  for (const key of previous) if (!next.has(key)) removed += 1;
  return { added, removed };
}
