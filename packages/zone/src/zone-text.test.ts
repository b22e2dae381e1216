import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { defaultZoneConfig } from './config.js';
import type { AddressRecord } from './model.js';
import { diffSorted, renderBody, sortIdentity, sortUnique, zoneFrame } from './zone-text.js';

// The obvious set-based diff, as the oracle diffSorted must agree with.
function recordKey(record: AddressRecord): string {
  return `${record.name} ${record.type} ${record.address}`;
}
function diffRecordKeys(
  previous: ReadonlySet<string>,
  next: ReadonlySet<string>,
): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const key of next) if (!previous.has(key)) added += 1;
  for (const key of previous) if (!next.has(key)) removed += 1;
  return { added, removed };
}

const record = fc
  .record({
    name: fc.constantFrom('a', 'b.a', 'web.default', 'nic1.web.default', 'db.prod', 'x-1.y'),
    type: fc.constantFrom('A' as const, 'AAAA' as const),
    suffix: fc.integer({ min: 1, max: 6 }),
  })
  .map(({ name, type, suffix }): AddressRecord => ({
    name,
    type,
    address: type === 'A' ? `10.0.0.${suffix * 40}` : suffix === 6 ? '2001:0db8::1' : `2001:db8::${suffix}`,
  }));

describe('diffSorted', () => {
  it('counts the same +added/-removed as diffing the sets of record keys', () => {
    fc.assert(
      fc.property(
        fc.array(record, { maxLength: 30 }),
        fc.array(record, { maxLength: 30 }),
        (before, after) => {
          const previous = sortUnique(before);
          const next = sortUnique(after);
          expect(diffSorted(previous, next)).toEqual(
            diffRecordKeys(new Set(previous.map(recordKey)), new Set(next.map(recordKey))),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('finds one change among equal copies of the other records', () => {
    const base: AddressRecord[] = [
      { name: 'web.default', type: 'A', address: '10.1.0.9' },
      { name: 'nic1.web.default', type: 'A', address: '10.1.0.9' },
      { name: 'db.prod', type: 'AAAA', address: '2001:db8::1' },
    ];
    const changed = base.map((entry) => ({ ...entry }));
    changed[1] = { name: 'nic1.web.default', type: 'A', address: '10.1.0.10' };
    expect(diffSorted(sortUnique(base), sortUnique(changed))).toEqual({ added: 1, removed: 1 });
    expect(diffSorted(sortUnique(base), sortUnique(base.map((entry) => ({ ...entry }))))).toEqual({
      added: 0,
      removed: 0,
    });
  });
});

describe('sortIdentity and renderBody', () => {
  it('orders names by their labels from the right, A before AAAA, addresses numerically', () => {
    const records: AddressRecord[] = [
      { name: 'b.a', type: 'A', address: '10.0.0.10' },
      { name: 'a', type: 'AAAA', address: '2001:db8::1' },
      { name: 'b.a', type: 'A', address: '10.0.0.9' },
      { name: 'a', type: 'A', address: '10.0.0.1' },
      { name: 'c', type: 'A', address: '10.0.0.1' },
    ];
    expect(sortUnique(records).map((entry) => `${entry.name} ${entry.type} ${entry.address}`)).toEqual([
      'a A 10.0.0.1',
      'a AAAA 2001:db8::1',
      'b.a A 10.0.0.9',
      'b.a A 10.0.0.10',
      'c A 10.0.0.1',
    ]);
    expect(sortIdentity({ name: 'b.a', type: 'A', address: '10.0.0.9' })).toBe(
      'a\u0001b\u00004' + '0a000009',
    );
  });

  it('writes the frame, then one line per record, in chunks that join to the whole text', () => {
    const config = defaultZoneConfig('vm.example.com', ['10.0.0.53']);
    const records: AddressRecord[] = Array.from({ length: 10_000 }, (_, index) => ({
      name: `vm-${index}.default`,
      type: 'A',
      address: `10.1.${index >> 8}.${index & 255}`,
    }));
    const body = renderBody(config, sortUnique(records));
    expect(body.chunks.length).toBeGreaterThan(1);
    const tail = body.chunks.join('');
    const frame = zoneFrame(config);
    expect(frame.fixedLines).toHaveLength(3);
    expect(tail.startsWith(frame.fixedLines.join(''))).toBe(true);
    expect(tail.split('\n').length - 1).toBe(3 + records.length);
  });
});
