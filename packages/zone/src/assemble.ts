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
  // Accepted records in one array and, per object, its key and where its records end (not one key or small
  // object per record): this runs over every record on every flush.
  const acceptedRecords: ClaimedRecord[] = [];
  const runKeys: string[] = [];
  const runEnds: number[] = [];
  const rejected: SkippedRecord[] = [];
  const reject = (reason: SkippedRecord['reason'], detail: string, object: string): void => {
    rejected.push({ reason, detail, object });
  };
  for (const [key, records] of entries) {
    for (const record of records) {
      const { name } = record;
      if (reserved.has(name)) {
        reject('reserved-name', `${name} is reserved for the zone's name server`, key);
      } else if (!isValidRelativeName(name)) {
        reject('invalid-name', `${JSON.stringify(name)} is not a valid owner name`, key);
      } else if (absoluteNameLength(name, origin) > MAX_NAME_LENGTH) {
        reject('name-too-long', `${name}.${origin} is longer than ${MAX_NAME_LENGTH} characters`, key);
      } else if (!isCanonicalAddress(record.type, record.address)) {
        reject(
          'invalid-address',
          `${JSON.stringify(record.address)} is not a canonical ${record.type} address`,
          key,
        );
      } else {
        if (record.claim === 'exclusive') {
          const owner = exclusiveOwner.get(name);
          if (owner === undefined || compareKeys(key, owner) < 0) exclusiveOwner.set(name, key);
        }
        acceptedRecords.push(record);
      }
    }
    if (acceptedRecords.length > (runEnds.at(-1) ?? 0)) {
      runKeys.push(key);
      runEnds.push(acceptedRecords.length);
    }
  }
  const records: AddressRecord[] = [];
  const conflictKeys = new Set<string>();
  const conflicts: NameConflict[] = [];
  let run = 0;
  for (let index = 0; index < acceptedRecords.length; index += 1) {
    const record = acceptedRecords[index] as ClaimedRecord;
    while (index >= (runEnds[run] ?? Infinity)) run += 1;
    const key = runKeys[run] as string;
    const owner = exclusiveOwner.get(record.name);
    if (owner === undefined || owner === key) {
      records.push(record);
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

/** The one sentence a conflict is logged with (by the watchers and by `render`). */
export function describeConflict(conflict: NameConflict): string {
  return `name ${conflict.name} is claimed by ${conflict.winner} and ${conflict.loser}; ${conflict.winner} keeps it`;
}
