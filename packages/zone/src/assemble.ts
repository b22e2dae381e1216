import { isCanonicalAddress } from './addresses.js';
import type { AddressRecord, ClaimedRecord } from './model.js';
import { absoluteNameLength, isValidRelativeName, MAX_NAME_LENGTH } from './names.js';
import type { SkippedRecord } from './skip.js';

export interface NameConflict {
  /** Owner name relative to the origin. */
  readonly name: string;
  /** Key of the object that keeps the name. */
  readonly winner: string;
  /** Key of an object whose records for that name were left out. */
  readonly loser: string;
}

export interface AssembledRecords {
  readonly records: AddressRecord[];
  readonly conflicts: NameConflict[];
  readonly rejected: SkippedRecord[];
}

function compareKeys(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * Turns every object's claimed records into the zone's records (pure; ExternalDNS's "plan" step).
 * - A name claimed `exclusive` by several objects belongs to the object with the lowest key; the others
 *   are reported once per (name, object) as conflicts. `shared` claims on such a name lose too.
 * - A name claimed only `shared` serves the addresses of every claiming object.
 * - Reserved names (the name server's own name) and anything that is not a valid name or canonical
 *   address are rejected with a reason, so the zone stays valid whatever a source produced.
 */
export function assembleRecords(
  entries: Iterable<readonly [string, readonly ClaimedRecord[]]>,
  origin: string,
  reserved: ReadonlySet<string>,
): AssembledRecords {
  const exclusiveOwner = new Map<string, string>();
  const accepted: { key: string; record: ClaimedRecord }[] = [];
  const rejected: SkippedRecord[] = [];
  for (const [key, records] of entries) {
    for (const record of records) {
      if (reserved.has(record.name)) {
        rejected.push({
          reason: 'reserved-name',
          detail: `${record.name} is reserved for the zone's name server`,
          object: key,
        });
        continue;
      }
      if (!isValidRelativeName(record.name)) {
        rejected.push({
          reason: 'invalid-name',
          detail: `${JSON.stringify(record.name)} is not a valid owner name`,
          object: key,
        });
        continue;
      }
      if (absoluteNameLength(record.name, origin) > MAX_NAME_LENGTH) {
        rejected.push({
          reason: 'name-too-long',
          detail: `${record.name}.${origin} is longer than ${MAX_NAME_LENGTH} characters`,
          object: key,
        });
        continue;
      }
      if (!isCanonicalAddress(record.type, record.address)) {
        rejected.push({
          reason: 'invalid-address',
          detail: `${JSON.stringify(record.address)} is not a canonical ${record.type} address`,
          object: key,
        });
        continue;
      }
      if (record.claim === 'exclusive') {
        const owner = exclusiveOwner.get(record.name);
        if (owner === undefined || compareKeys(key, owner) < 0) exclusiveOwner.set(record.name, key);
      }
      accepted.push({ key, record });
    }
  }
  const records: AddressRecord[] = [];
  const conflictKeys = new Set<string>();
  const conflicts: NameConflict[] = [];
  for (const { key, record } of accepted) {
    const owner = exclusiveOwner.get(record.name);
    if (owner === undefined || owner === key) {
      records.push({ name: record.name, type: record.type, address: record.address });
      continue;
    }
    const conflictKey = `${record.name}\u0000${key}`;
    if (!conflictKeys.has(conflictKey)) {
      conflictKeys.add(conflictKey);
      conflicts.push({ name: record.name, winner: owner, loser: key });
    }
  }
  conflicts.sort((a, b) => compareKeys(a.name, b.name) || compareKeys(a.loser, b.loser));
  return { records, conflicts, rejected };
}
