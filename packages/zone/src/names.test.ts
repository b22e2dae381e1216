import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { InvalidNameError } from './errors.js';
import { joinOwnerName, normalizeOrigin, toLabel } from './names.js';

describe('toLabel', () => {
  it.each([
    ['eth0', 'eth0'],
    ['ETH0', 'eth0'],
    ['nic_1', 'nic-1'],
    ['enp1s0', 'enp1s0'],
    ['0', '0'],
    ['a'.repeat(63), 'a'.repeat(63)],
  ])('accepts %j as %j', (input, label) => {
    expect(toLabel(input)).toEqual({ ok: true, label });
  });

  it.each([
    ['', 'invalid-name', 'empty label'],
    ['a'.repeat(64), 'name-too-long', '64 characters'],
    ['-eth0', 'invalid-name', 'start or end'],
    ['eth0_', 'invalid-name', 'start or end'],
    ['eth 0', 'invalid-name', 'U+0020 at position 3'],
    ['eth0.5', 'invalid-name', '"." at position 4'],
    ['a;b', 'invalid-name', '";"'],
    ['$ORIGIN', 'invalid-name', '"$"'],
    ['a(b', 'invalid-name', '"("'],
    ['a)b', 'invalid-name', '")"'],
    ['a"b', 'invalid-name', '"\\""'],
    ['a\\b', 'invalid-name', '"\\\\"'],
    ['a@b', 'invalid-name', '"@"'],
    ['a\nb', 'invalid-name', 'U+000A'],
    ['café', 'invalid-name', 'U+00E9'],
    ['Ethernet 2', 'invalid-name', 'U+0020'],
  ])('rejects %j (%s)', (input, reason, detail) => {
    const result = toLabel(input);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe(reason);
      expect(result.detail).toContain(detail);
    }
  });

  it('only ever returns labels of the DNS hostname alphabet', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (input) => {
        const result = toLabel(input);
        if (result.ok) {
          expect(result.label).toMatch(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/);
          expect(result.label).toBe(input.toLowerCase().replaceAll('_', '-'));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('joinOwnerName', () => {
  it('joins labels relative to the origin', () => {
    expect(joinOwnerName(['nic1', 'web', 'default'], 'vm.example.com')).toEqual({
      ok: true,
      name: 'nic1.web.default',
    });
  });

  it('counts the origin in the 253 character limit', () => {
    const labels = ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(50)];
    expect(joinOwnerName(labels, 'x').ok).toBe(true); // 63*3+50+3 dots = 242, +2 = 244
    const result = joinOwnerName(labels, 'vm.example.com');
    expect(result).toMatchObject({ ok: false, reason: 'name-too-long' });
  });

  it('refuses labels that did not come from toLabel', () => {
    expect(joinOwnerName(['ok', 'not ok'], 'vm')).toMatchObject({ ok: false, reason: 'invalid-name' });
    expect(joinOwnerName([], 'vm')).toMatchObject({ ok: false });
  });
});

describe('normalizeOrigin', () => {
  it.each([
    ['vm.example.com', 'vm.example.com'],
    ['VM.Example.COM.', 'vm.example.com'],
    ['vm', 'vm'],
    ['cluster.local', 'cluster.local'],
  ])('normalizes %j', (input, origin) => {
    expect(normalizeOrigin(input)).toBe(origin);
  });

  it.each(['', '.', 'vm..example', 'vm.exa mple.com', 'under_score.com', '-vm.com', `${'a'.repeat(64)}.com`])(
    'rejects %j with a message naming it',
    (input) => {
      expect(() => normalizeOrigin(input)).toThrow(InvalidNameError);
    },
  );
});
