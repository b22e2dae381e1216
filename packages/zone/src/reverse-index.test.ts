import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { defaultZoneConfig } from './config.js';
import type { AddressRecord, ClaimedRecord } from './model.js';
import { planZone } from './plan.js';
import { ReverseIndex } from './reverse-index.js';
import { parseReverseRanges, ptrLine, reverseRecords, type PtrRecord } from './reverse.js';

const config = defaultZoneConfig('vm.example.com', ['10.10.0.53']);
const ranges = parseReverseRanges('10.10.0.0/16,fd00:10::/48,192.168.7.0/24');

/** The forward zone's records as the reconciler gets them: assembled, sorted, de-duplicated by planZone. */
function forwardRecords(objects: ReadonlyMap<string, readonly ClaimedRecord[]>): readonly AddressRecord[] {
  return planZone(config, objects, {}, { nowMs: 1_764_000_000_000, validate: false }).records;
}

// Few names and addresses, so that addresses are shared by several names and objects, names are claimed by
// several objects (conflicts), and an object's next version moves its addresses between ranges.
const address = fc.constantFrom(
  '10.10.0.1',
  '10.10.0.2',
  '10.10.3.4',
  '10.10.255.255',
  'fd00:10::1',
  'fd00:10::2',
  'fd00:10:0:ffff::9',
  '192.168.7.7',
  '192.168.8.7',
  '192.0.2.1',
  '2001:db8::1',
);
const name = fc.constantFrom(
  'web.default',
  'nic1.web.default',
  'eth0.web.default',
  'db.prod',
  'nic1.db.prod',
);
const claimed = fc
  .tuple(name, address, fc.constantFrom<ClaimedRecord['claim']>('exclusive', 'shared'))
  .map(([owner, text, claim]): ClaimedRecord => ({
    name: owner,
    type: text.includes(':') ? 'AAAA' : 'A',
    address: text,
    claim,
  }));
const key = fc.constantFrom('a', 'b', 'c', 'd');
const objectRecords = fc.array(claimed, { maxLength: 4 });
type Step =
  | { readonly kind: 'upsert'; readonly key: string; readonly records: ClaimedRecord[] }
  | { readonly kind: 'remove'; readonly key: string }
  | { readonly kind: 'replaceAll'; readonly objects: [string, ClaimedRecord[]][] };
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('upsert' as const), key, records: objectRecords }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), key }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('replaceAll' as const),
      objects: fc.array(fc.tuple(key, objectRecords), { maxLength: 4 }),
    }),
  },
);

function apply(objects: Map<string, readonly ClaimedRecord[]>, change: Step): void {
  if (change.kind === 'upsert') objects.set(change.key, change.records);
  else if (change.kind === 'remove') objects.delete(change.key);
  else {
    objects.clear();
    for (const [objectKey, records] of change.objects) objects.set(objectKey, records);
  }
}

const view = (records: readonly PtrRecord[]) =>
  records.map(({ name: owner, target, key: sortKey }) => ({ owner, target, sortKey }));

/** +added −removed between two PTR lists, from scratch (by address key). */
function expectedChanges(before: readonly PtrRecord[], after: readonly PtrRecord[]) {
  const old = new Map(before.map((record) => [record.key, record.target]));
  const now = new Map(after.map((record) => [record.key, record.target]));
  let added = 0;
  let removed = 0;
  for (const [sortKey, target] of old) if (now.get(sortKey) !== target) removed += 1;
  for (const [sortKey, target] of now) if (old.get(sortKey) !== target) added += 1;
  return { added, removed };
}

describe('ReverseIndex', () => {
  // With the base objects, a zone holds enough PTRs that a few changes patch its sorted list in place
  // (binary search) instead of sorting it again; without them, every change sorts again.
  it.each([
    ['small zones (sorted again)', 0, 150],
    ['larger zones (patched in place)', 64, 50],
  ])(
    'agrees with reverseRecords from scratch after every step of any sequence of changes: %s',
    (_what, base, runs) => {
      fc.assert(
        // Each step: the change, whether the zones are committed after it, and whether they are looked at at
        // all (an update nobody reads leaves its changes pending in the index until a later one).
        fc.property(
          fc.array(fc.tuple(step, fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 25 }),
          (steps) => {
            const objects = new Map<string, readonly ClaimedRecord[]>();
            for (let item = 0; item < base; item += 1) {
              objects.set(`base-${item}`, [
                { name: `nic1.vm-${item}.base`, type: 'A', address: `10.10.1.${item}`, claim: 'exclusive' },
                {
                  name: `nic1.vm-${item}.base`,
                  type: 'AAAA',
                  address: `fd00:10::1:${item}`,
                  claim: 'exclusive',
                },
                { name: `vm-${item}.base`, type: 'A', address: `192.168.7.${item + 10}`, claim: 'exclusive' },
              ]);
            }
            const index = new ReverseIndex(ranges, config.origin);
            // What each zone held at its last commit (a commit is skipped at random, as after a failed write).
            const committed: (readonly PtrRecord[] | undefined)[] = ranges.map(() => undefined);
            steps.forEach(([change, commit, look], at) => {
              apply(objects, change);
              const forward = forwardRecords(objects);
              index.update(forward);
              if (!look && at < steps.length - 1) return;
              const expected = reverseRecords(ranges, config.origin, forward);
              expect(index.outside).toBe(expected.outside);
              expected.zones.forEach((zone, zoneIndex) => {
                expect(view(index.records(zoneIndex))).toEqual(view(zone.records));
                expect(index.count(zoneIndex)).toBe(zone.records.length);
                expect(index.text(zoneIndex)).toBe(
                  zone.records.map((record) => ptrLine(record.name, record.target)).join(''),
                );
                const before = committed[zoneIndex];
                const changes = index.changes(zoneIndex);
                if (before === undefined) {
                  expect(changes).toEqual({ changed: true, added: zone.records.length, removed: 0 });
                } else {
                  const counts = expectedChanges(before, zone.records);
                  expect(changes).toEqual({ changed: counts.added + counts.removed > 0, ...counts });
                }
                if (commit) {
                  index.commit(zoneIndex);
                  committed[zoneIndex] = zone.records;
                  expect(index.changes(zoneIndex)).toEqual({ changed: false, added: 0, removed: 0 });
                }
              });
            });
          },
        ),
        { numRuns: runs },
      );
    },
  );

  it('names the most specific name of a shared address, and the next one when that name goes', () => {
    const index = new ReverseIndex(ranges, config.origin);
    const objects = new Map<string, readonly ClaimedRecord[]>([
      [
        'a',
        [
          { name: 'web.default', type: 'A', address: '10.10.3.4', claim: 'exclusive' },
          { name: 'nic1.web.default', type: 'A', address: '10.10.3.4', claim: 'exclusive' },
        ],
      ],
      ['b', [{ name: 'eth0.db.prod', type: 'A', address: '10.10.3.4', claim: 'exclusive' }]],
    ]);
    index.update(forwardRecords(objects));
    expect(index.records(0).map((record) => [record.name, record.target])).toEqual([
      ['4.3', 'eth0.db.prod.vm.example.com.'],
    ]);
    index.commit(0);
    objects.delete('b');
    index.update(forwardRecords(objects));
    expect(index.records(0).map((record) => record.target)).toEqual(['nic1.web.default.vm.example.com.']);
    expect(index.changes(0)).toEqual({ changed: true, added: 1, removed: 1 });
    // The address moves to the IPv6 range: the IPv4 zone loses its PTR, the IPv6 zone gains one.
    objects.set('a', [{ name: 'web.default', type: 'AAAA', address: 'fd00:10::4', claim: 'exclusive' }]);
    index.update(forwardRecords(objects));
    expect(index.records(0)).toEqual([]);
    expect(index.changes(0)).toEqual({ changed: true, added: 0, removed: 1 });
    expect(index.records(1).map((record) => record.target)).toEqual(['web.default.vm.example.com.']);
    expect(index.outside).toBe(0);
  });

  it('reports a zone unchanged after a change that was undone before the next commit', () => {
    const index = new ReverseIndex(ranges, config.origin);
    const record = (text: string): ClaimedRecord => ({
      name: 'web.default',
      type: 'A',
      address: text,
      claim: 'exclusive',
    });
    const one = new Map([['a', [record('10.10.3.4')]]]);
    index.update(forwardRecords(one));
    index.commit(0);
    index.update(forwardRecords(new Map([['a', [record('10.10.3.5')]]])));
    expect(index.changes(0)).toEqual({ changed: true, added: 1, removed: 1 });
    index.update(forwardRecords(one));
    expect(index.changes(0)).toEqual({ changed: false, added: 0, removed: 0 });
  });
});
