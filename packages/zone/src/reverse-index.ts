// The PTR records of the reverse zones, kept up to date from one flush to the next (internal to the package:
// the reconciler's state; reverseRecords in reverse.ts is the from-scratch definition it must always agree
// with). Pure: no I/O, no clock.
//
// What is kept: per zone, each PTR's zone file line by its address key; per address of the forward zone, the
// name its PTR gets and how many names it has, so a change costs work for the changed records only. The
// first flush fills each zone with one sort, not one insertion per PTR.
import type { AddressRecord, AddressType } from './model.js';
import { isPreferredName, reverseAddressLocator, type PtrRecord, type ReverseRange } from './reverse.js';
import { forEachChange } from './zone-text.js';

/** What changed in one reverse zone since its last commit (exact: a change undone since counts nothing). */
export interface ReverseZoneChanges {
  /** The zone differs from the one last committed, or was never committed. */
  readonly changed: boolean;
  readonly added: number;
  readonly removed: number;
}

/** Up to this share of the zone's PTRs, pending changes are patched into the sorted lists one by one. */
const PATCH_SHARE = 1 / 16;
/** Up to this many pending changes, the zone's joined lines are patched instead of joined again. */
const TEXT_PATCHES = 4;
const PTR_TAB = '\tIN\tPTR\t';

/** Index of the first of `sorted` not below `key` (binary search). */
function lowerBound(sorted: readonly string[], key: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((sorted[middle] as string) < key) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * One reverse zone's PTR lines (`<owner> IN PTR <target>` and a line end), sorted by address key in two
 * parallel arrays, and the changes not yet merged into them. No map of every key: a lookup is a binary search,
 * and changes are merged when the lines are next needed (patched in place when few, merged in one pass when
 * many).
 */
class ZoneIndex {
  private keys: string[] = [];
  private lines: string[] = [];
  /** Changes since the arrays were last brought up to date: key → its line now (undefined: removed). */
  private readonly pending = new Map<string, string | undefined>();
  /** How many PTRs the zone has, pending changes included. */
  size = 0;
  /**
   * Each key changed since the last commit, with its line at that commit (undefined: it had none). Not kept
   * before the first commit: everything is new then.
   */
  private readonly sinceCommit = new Map<string, string | undefined>();
  /** `lines` joined; patched with them, or undefined until the next `text` joins them again. */
  private joined: string | undefined = '';
  private committed = false;

  get(key: string): string | undefined {
    if (this.pending.has(key)) return this.pending.get(key);
    const at = lowerBound(this.keys, key);
    return this.keys[at] === key ? this.lines[at] : undefined;
  }

  set(key: string, line: string | undefined): void {
    const old = this.get(key);
    if (old === line) return;
    if (this.committed && !this.sinceCommit.has(key)) this.sinceCommit.set(key, old);
    this.size += (line === undefined ? 0 : 1) - (old === undefined ? 0 : 1);
    this.pending.set(key, line);
  }

  /**
   * Makes the zone hold exactly `entries`, each `<key>\u0000<line>`. Meant for an empty zone (the first
   * flush): then one sort in the engine's default order (no comparator: several times faster than one) orders
   * them by key. A zone that still holds PTRs takes them one by one instead.
   */
  load(entries: string[]): void {
    this.sorted();
    if (this.keys.length > 0) {
      const kept = new Set<string>();
      for (const entry of entries) {
        const cut = entry.indexOf('\u0000');
        kept.add(entry.slice(0, cut));
        this.set(entry.slice(0, cut), entry.slice(cut + 1));
      }
      for (const key of [...this.keys]) if (!kept.has(key)) this.set(key, undefined);
      return;
    }
    entries.sort();
    const keys = new Array<string>(entries.length);
    const lines = new Array<string>(entries.length);
    for (let index = 0; index < entries.length; index += 1) {
      const entry = entries[index] as string;
      const cut = entry.indexOf('\u0000');
      const key = entry.slice(0, cut);
      keys[index] = key;
      lines[index] = entry.slice(cut + 1);
      if (this.committed && !this.sinceCommit.has(key)) this.sinceCommit.set(key, undefined);
    }
    this.keys = keys;
    this.lines = lines;
    this.size = entries.length;
    this.joined = undefined;
  }

  /** The keys and lines of every PTR, sorted by key (parallel arrays), with every change merged in. */
  sorted(): { readonly keys: readonly string[]; readonly lines: readonly string[] } {
    const pending = this.pending;
    if (pending.size > 0) {
      if (pending.size > TEXT_PATCHES) this.joined = undefined;
      if (pending.size <= this.keys.length * PATCH_SHARE) {
        for (const [key, line] of pending) this.patch(key, line);
      } else {
        this.merge();
      }
      pending.clear();
    }
    return { keys: this.keys, lines: this.lines };
  }

  /**
   * Puts one change into the sorted arrays at the place a binary search finds, and into `joined` at the same
   * place (the offset is the length of the lines before it), so a few changes cost a few slices of the text
   * instead of joining every line again.
   */
  private patch(key: string, line: string | undefined): void {
    const { keys, lines } = this;
    const at = lowerBound(keys, key);
    const old = keys[at] === key ? lines[at] : undefined;
    // A change undone before the merge (a PTR added and removed again) leaves nothing to do.
    if (old === line) return;
    if (this.joined !== undefined) {
      let offset = 0;
      for (let index = 0; index < at; index += 1) offset += (lines[index] as string).length;
      const text = this.joined;
      this.joined = text.slice(0, offset) + (line ?? '') + text.slice(offset + (old?.length ?? 0));
    }
    if (line === undefined) {
      keys.splice(at, 1);
      lines.splice(at, 1);
    } else if (old !== undefined) {
      lines[at] = line;
    } else {
      keys.splice(at, 0, key);
      lines.splice(at, 0, line);
    }
  }

  /** Merges many pending changes in one pass over the sorted arrays and the changed keys, sorted. */
  private merge(): void {
    const changed = [...this.pending.keys()].sort();
    const { keys, lines, pending } = this;
    const nextKeys: string[] = [];
    const nextLines: string[] = [];
    let index = 0;
    for (const key of changed) {
      while (index < keys.length && (keys[index] as string) < key) {
        nextKeys.push(keys[index] as string);
        nextLines.push(lines[index] as string);
        index += 1;
      }
      if (keys[index] === key) index += 1;
      const line = pending.get(key);
      if (line !== undefined) {
        nextKeys.push(key);
        nextLines.push(line);
      }
    }
    for (; index < keys.length; index += 1) {
      nextKeys.push(keys[index] as string);
      nextLines.push(lines[index] as string);
    }
    this.keys = nextKeys;
    this.lines = nextLines;
    this.joined = undefined;
  }

  /** Every PTR line, sorted by address, as one string. */
  text(): string {
    const { lines } = this.sorted();
    this.joined ??= lines.join('');
    return this.joined;
  }

  changes(): ReverseZoneChanges {
    if (!this.committed) return { changed: true, added: this.size, removed: 0 };
    let added = 0;
    let removed = 0;
    for (const [key, before] of this.sinceCommit) {
      const now = this.get(key);
      if (before === now) continue;
      if (before !== undefined) removed += 1;
      if (now !== undefined) added += 1;
    }
    return { changed: added > 0 || removed > 0, added, removed };
  }

  commit(): void {
    this.sinceCommit.clear();
    this.committed = true;
  }
}

/** An address of the forward zone: the name its PTR gets (see isPreferredName) and how many names it has. */
interface AddressNames {
  readonly type: AddressType;
  name: string;
  count: number;
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
  /** `.<forward origin>.`: a PTR target is a forward name and this. */
  private readonly targetSuffix: string;
  private readonly locate: ReturnType<typeof reverseAddressLocator>;
  private readonly zones: ZoneIndex[];
  /** The forward records of the last update (sorted and de-duplicated, as planZone returns them). */
  private forward: readonly AddressRecord[] = [];
  /** Every address of those records. */
  private readonly addresses = new Map<string, AddressNames>();
  /** Addresses of the forward zone in no range (not published). */
  private readonly outsideAddresses = new Set<string>();

  constructor(ranges: readonly ReverseRange[], forwardOrigin: string) {
    this.ranges = ranges;
    this.targetSuffix = `.${forwardOrigin}.`;
    this.locate = reverseAddressLocator(ranges);
    this.zones = ranges.map(() => new ZoneIndex());
  }

  /** The next update builds every zone from nothing (the forward zone was empty so far). */
  get fullBuild(): boolean {
    return this.ranges.length > 0 && this.forward.length === 0;
  }

  /** Distinct addresses of the forward zone in no range (not published). */
  get outside(): number {
    return this.outsideAddresses.size;
  }

  /**
   * Brings the index to the forward zone whose records are `sorted`: sorted and de-duplicated by sortUnique
   * (planZone's `records`), which the change pass relies on.
   */
  update(sorted: readonly AddressRecord[]): void {
    const addresses = this.addresses;
    if (this.forward.length === 0) {
      // From empty (the first flush): every address is new, and each zone is filled with one sort.
      this.forward = sorted;
      for (const record of sorted) this.addName(record);
      const entries: string[][] = this.zones.map(() => []);
      for (const [address, { type, name }] of addresses) {
        const { zone, key, owner } = this.locate(type, address);
        if (zone < 0) this.outsideAddresses.add(address);
        else entries[zone]?.push(`${key}\u0000${this.lineOf(owner, name)}`);
      }
      this.zones.forEach((zone, index) => zone.load(entries[index] ?? []));
      return;
    }
    const touched = new Map<string, AddressType>();
    // Addresses that lost the name of their PTR but kept other names: their names are gathered again below.
    let lost: Set<string> | undefined;
    forEachChange(this.forward, sorted, (record, added) => {
      const { address } = record;
      touched.set(address, record.type);
      if (added) {
        this.addName(record);
        return;
      }
      const entry = addresses.get(address);
      if (entry === undefined) return;
      entry.count -= 1;
      if (entry.count === 0) addresses.delete(address);
      else if (entry.name === record.name) (lost ??= new Set()).add(address);
    });
    this.forward = sorted;
    if (lost !== undefined) {
      // One pass over the forward records for the few addresses that need it.
      const wanted = lost;
      const names = new Map<string, string>();
      for (const { address, name } of sorted) {
        if (!wanted.has(address)) continue;
        const best = names.get(address);
        if (best === undefined || isPreferredName(name, best)) names.set(address, name);
      }
      for (const [address, name] of names) {
        const entry = addresses.get(address);
        if (entry !== undefined) entry.name = name;
      }
    }
    for (const [address, type] of touched) this.publish(type, address, addresses.get(address)?.name);
  }

  /** Counts a record's name for its address, and makes it the PTR's name when it is preferred. */
  private addName({ type, address, name }: AddressRecord): void {
    const entry = this.addresses.get(address);
    if (entry === undefined) this.addresses.set(address, { type, name, count: 1 });
    else {
      entry.count += 1;
      if (isPreferredName(name, entry.name)) entry.name = name;
    }
  }

  /** Makes `address`'s PTR name `name` (undefined: the address has no PTR any more). */
  private publish(type: AddressType, address: string, name: string | undefined): void {
    const { zone: zoneIndex, key, owner } = this.locate(type, address);
    const zone = this.zones[zoneIndex];
    if (zone === undefined) {
      if (name === undefined) this.outsideAddresses.delete(address);
      else this.outsideAddresses.add(address);
      return;
    }
    zone.set(key, name === undefined ? undefined : this.lineOf(owner, name));
  }

  /**
   * The zone file line of the PTR at `owner` naming forward name `name` (the format of ptrLine). One join, not
   * concatenations: a flat string, which the joins of the zone's lines do not walk again.
   */
  private lineOf(owner: string, name: string): string {
    return [owner, PTR_TAB, name, this.targetSuffix, '\n'].join('');
  }

  /** The PTRs of zone `index` (the index of its range), sorted by address. */
  records(index: number): PtrRecord[] {
    const zone = this.zones[index];
    if (zone === undefined) return [];
    const { keys, lines } = zone.sorted();
    return lines.map((line, at) => {
      const tab = line.indexOf('\t');
      return {
        name: line.slice(0, tab),
        target: line.slice(tab + PTR_TAB.length, -1),
        key: keys[at] as string,
      };
    });
  }

  /** How many PTRs zone `index` has. */
  count(index: number): number {
    return this.zones[index]?.size ?? 0;
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
