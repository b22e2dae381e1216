// The PTR records of the reverse zones, kept up to date from one flush to the next (internal to the package:
// the reconciler's state; reverseRecords in reverse.ts is the from-scratch definition it must always agree
// with). Pure: no I/O, no clock.
import type { AddressRecord } from './model.js';
import {
  isPreferredName,
  ptrLine,
  reverseAddressLocator,
  type AddressInfo,
  type PtrRecord,
  type ReverseRange,
} from './reverse.js';
import { forEachChange } from './zone-text.js';

/** One published PTR and its zone file line (built once, when the PTR changes). */
interface PtrEntry extends PtrRecord {
  readonly line: string;
}

/** An address of the forward zone: where it goes, and every name the forward zone gives it. */
interface AddressState {
  readonly info: AddressInfo;
  readonly names: string[];
}

/** What changed in one reverse zone since its last commit (exact: a change undone since counts nothing). */
export interface ReverseZoneChanges {
  /** The zone differs from the one last committed, or was never committed. */
  readonly changed: boolean;
  readonly added: number;
  readonly removed: number;
}

/** Above this share of changed keys, a zone's sorted list is sorted again instead of patched. */
const RESORT_SHARE = 1 / 16;
/** Up to this many changed keys, a zone's joined lines are patched instead of joined again. */
const TEXT_PATCHES = 4;

class ZoneIndex {
  /** The zone's PTRs by address key. */
  readonly current = new Map<string, PtrEntry>();
  /** `current` sorted by key, once `sortedEntries` brought it up to date (then `touched` is empty). */
  private sorted: PtrEntry[] = [];
  /** Keys whose PTR changed since `sorted` was brought up to date (not kept while `resort` is set). */
  private readonly touched = new Set<string>();
  /** So many keys changed that `sorted` is rebuilt from `current` instead of patched. */
  private resort = false;
  /**
   * Each key changed since the last commit, with its PTR at that commit (undefined: it had none). Not kept
   * before the first commit: everything is new then.
   */
  private readonly sinceCommit = new Map<string, PtrEntry | undefined>();
  /** The lines of `sorted` joined; patched with it, or undefined until the next `text` joins them again. */
  private lines: string | undefined = '';
  private committed = false;

  set(key: string, entry: PtrEntry | undefined): void {
    if (this.committed && !this.sinceCommit.has(key)) this.sinceCommit.set(key, this.current.get(key));
    if (entry === undefined) this.current.delete(key);
    else this.current.set(key, entry);
    if (!this.resort) {
      this.touched.add(key);
      if (this.touched.size > this.sorted.length * RESORT_SHARE) {
        this.resort = true;
        this.touched.clear();
      }
    }
  }

  sortedEntries(): readonly PtrEntry[] {
    if (this.resort) {
      // The keys alone, in the engine's default order (no comparator: several times faster on keys that
      // share a long prefix, as IPv6 keys do), then their entries.
      const keys = [...this.current.keys()].sort();
      const sorted = new Array<PtrEntry>(keys.length);
      for (let index = 0; index < keys.length; index += 1) {
        sorted[index] = this.current.get(keys[index] as string) as PtrEntry;
      }
      this.sorted = sorted;
      this.resort = false;
      this.lines = undefined;
    } else {
      // Each patch of the joined lines copies them once: beyond a few, joining them again is cheaper.
      if (this.touched.size > TEXT_PATCHES) this.lines = undefined;
      for (const key of this.touched) this.patch(key);
    }
    this.touched.clear();
    return this.sorted;
  }

  /**
   * Puts the current PTR of `key` (or its absence) into `sorted`, found by binary search, and its line into
   * `lines` at the same place (the offset is the length of the lines before it), so a few changes cost a few
   * slices of the text instead of joining every line again.
   */
  private patch(key: string): void {
    const sorted = this.sorted;
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((sorted[middle] as PtrEntry).key < key) low = middle + 1;
      else high = middle;
    }
    const old = low < sorted.length && (sorted[low] as PtrEntry).key === key ? sorted[low] : undefined;
    const entry = this.current.get(key);
    if (entry === old) return;
    if (this.lines !== undefined) {
      let offset = 0;
      for (let index = 0; index < low; index += 1) offset += (sorted[index] as PtrEntry).line.length;
      const lines = this.lines;
      this.lines =
        lines.slice(0, offset) + (entry?.line ?? '') + lines.slice(offset + (old?.line.length ?? 0));
    }
    if (entry === undefined) sorted.splice(low, 1);
    else if (old !== undefined) sorted[low] = entry;
    else sorted.splice(low, 0, entry);
  }

  /** Every PTR line, sorted by address, as one string. */
  text(): string {
    const entries = this.sortedEntries();
    if (this.lines === undefined) {
      const parts = new Array<string>(entries.length);
      for (let index = 0; index < entries.length; index += 1)
        parts[index] = (entries[index] as PtrEntry).line;
      this.lines = parts.join('');
    }
    return this.lines;
  }

  changes(): ReverseZoneChanges {
    if (!this.committed) return { changed: true, added: this.current.size, removed: 0 };
    let added = 0;
    let removed = 0;
    for (const [key, before] of this.sinceCommit) {
      const now = this.current.get(key);
      if (before?.target === now?.target) continue;
      if (before !== undefined) removed += 1;
      if (now !== undefined) added += 1;
    }
    return { changed: !this.committed || added > 0 || removed > 0, added, removed };
  }

  commit(): void {
    this.sinceCommit.clear();
    this.committed = true;
  }
}

/**
 * The reverse zones' PTRs as an index that follows the forward zone: {@link ReverseIndex.update} takes the
 * forward zone's records of a flush and changes only the addresses whose records changed since the previous
 * update (found in one pass over both sorted lists, by reference). For each such address it picks the PTR
 * name again from all of the address's names (the same rule as reverseRecords: most labels, then the lowest
 * name), so an address that moves between ranges, gains or loses a name, or is shared by several names ends
 * up exactly as a from-scratch reverseRecords would give it. Each zone tells whether it changed since it was
 * last committed (written, or found identical on disk), so an unchanged zone needs no rendering at all.
 */
export class ReverseIndex {
  readonly ranges: readonly ReverseRange[];
  private readonly forwardOrigin: string;
  private readonly locate: (type: AddressRecord['type'], address: string) => AddressInfo;
  private readonly addresses = new Map<string, AddressState>();
  private readonly zones: ZoneIndex[];
  /** The forward records of the last update (sorted and de-duplicated, as planZone returns them). */
  private forward: readonly AddressRecord[] = [];
  private outsideCount = 0;

  constructor(ranges: readonly ReverseRange[], forwardOrigin: string) {
    this.ranges = ranges;
    this.forwardOrigin = forwardOrigin;
    this.locate = reverseAddressLocator(ranges);
    this.zones = ranges.map(() => new ZoneIndex());
  }

  /** Distinct addresses of the forward zone in no range (not published). */
  get outside(): number {
    return this.outsideCount;
  }

  /**
   * Brings the index to the forward zone whose records are `sorted`: sorted and de-duplicated by sortUnique
   * (planZone's `records`), which the change pass relies on.
   */
  update(sorted: readonly AddressRecord[]): void {
    if (this.addresses.size === 0) {
      // From empty (the first flush): every record is new, and every address is chosen once at the end.
      for (const record of sorted) this.addName(record);
      this.forward = sorted;
      for (const state of this.addresses.values()) this.choose(state);
      return;
    }
    const touched = new Set<AddressState>();
    forEachChange(this.forward, sorted, (record, added) => {
      const { address } = record;
      if (added) {
        touched.add(this.addName(record));
        return;
      }
      const state = this.addresses.get(address);
      if (state === undefined) return;
      const at = state.names.indexOf(record.name);
      if (at >= 0) state.names.splice(at, 1);
      if (state.names.length === 0) {
        // Gone from the forward zone; a record added later in this pass makes a new state, chosen after.
        this.addresses.delete(address);
        if (state.info.zone < 0) this.outsideCount -= 1;
      }
      touched.add(state);
    });
    this.forward = sorted;
    for (const state of touched) this.choose(state);
  }

  /** Adds a record's name to its address (new addresses are located first); returns the address's state. */
  private addName(record: AddressRecord): AddressState {
    const state = this.addresses.get(record.address);
    if (state !== undefined) {
      state.names.push(record.name);
      return state;
    }
    const created = { info: this.locate(record.type, record.address), names: [record.name] };
    this.addresses.set(record.address, created);
    if (created.info.zone < 0) this.outsideCount += 1;
    return created;
  }

  /**
   * Picks the PTR of an address again from all its names (none left: the address has no PTR any more; its
   * state is then no longer in `addresses`, but still says where it was).
   */
  private choose(state: AddressState): void {
    const { info, names } = state;
    const zone = this.zones[info.zone];
    if (zone === undefined) return;
    let chosen: string | undefined;
    for (const name of names) if (chosen === undefined || isPreferredName(name, chosen)) chosen = name;
    const current = zone.current.get(info.key);
    if (chosen === undefined) {
      if (current !== undefined) zone.set(info.key, undefined);
      return;
    }
    const target = `${chosen}.${this.forwardOrigin}.`;
    if (current?.target === target) return;
    zone.set(info.key, { name: info.owner, target, key: info.key, line: ptrLine(info.owner, target) });
  }

  /** The PTRs of zone `index` (the index of its range), sorted by address. */
  records(index: number): PtrRecord[] {
    return (this.zones[index]?.sortedEntries() ?? []).map(({ name, target, key }) => ({ name, target, key }));
  }

  /** How many PTRs zone `index` has. */
  count(index: number): number {
    return this.zones[index]?.current.size ?? 0;
  }

  /** The PTR lines of zone `index`, sorted by address, as one string (see reverseZoneParts). */
  text(index: number): string {
    return this.zones[index]?.text() ?? '';
  }

  /** What changed in zone `index` since {@link ReverseIndex.commit}. */
  changes(index: number): ReverseZoneChanges {
    return this.zones[index]?.changes() ?? { changed: false, added: 0, removed: 0 };
  }

  /** Zone `index` as it is now is on disk (written, or found identical there). */
  commit(index: number): void {
    this.zones[index]?.commit();
  }
}
