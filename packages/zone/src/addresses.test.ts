import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { addressSortKey, isCanonicalAddress, toAddress } from './addresses.js';

describe('toAddress', () => {
  it.each([
    ['10.0.0.1', 'A', '10.0.0.1'],
    ['192.168.1.20', 'A', '192.168.1.20'],
    ['172.38.0.5', 'A', '172.38.0.5'],
    ['2001:db8::1', 'AAAA', '2001:db8::1'],
    ['2001:DB8:0:0:0:0:0:1', 'AAAA', '2001:db8::1'],
    ['fd00:10:244::5', 'AAAA', 'fd00:10:244::5'],
    ['::ffff:10.1.2.3', 'A', '10.1.2.3'],
  ])('accepts %j as %s %s', (input, type, address) => {
    expect(toAddress(input)).toEqual({ ok: true, type, address });
  });

  it.each([
    ['169.254.1.1', 'link-local'],
    ['127.0.0.1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['fe80::1', 'link-local'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['ff02::1', 'multicast'],
  ])('skips the non-routable %j', (input, range) => {
    expect(toAddress(input)).toEqual({
      ok: false,
      reason: 'non-routable-address',
      detail: expect.stringContaining(range),
    });
  });

  it('keeps non-routable addresses when asked', () => {
    expect(toAddress('127.0.0.1', { allowNonRoutable: true })).toEqual({
      ok: true,
      type: 'A',
      address: '127.0.0.1',
    });
  });

  it.each([
    '',
    '10.0.0',
    '010.0.0.1',
    '0x0a.0.0.1',
    '10.0.0.256',
    '10.0.0.1/24',
    'fe80::1%eth0',
    ' 10.0.0.1',
    '10.0.0.1\n',
    'a'.repeat(100),
    '1.2.3.4 IN A 5.6.7.8',
  ])('rejects %j as invalid', (input) => {
    expect(toAddress(input)).toMatchObject({ ok: false, reason: 'invalid-address' });
  });
});

describe('address helpers', () => {
  it('recognises only canonical forms', () => {
    expect(isCanonicalAddress('A', '10.0.0.1')).toBe(true);
    expect(isCanonicalAddress('A', '10.0.0.01')).toBe(false);
    expect(isCanonicalAddress('AAAA', '2001:db8::1')).toBe(true);
    expect(isCanonicalAddress('AAAA', '2001:db8::1\n')).toBe(false);
  });

  it('sorts IPv4 numerically as strings', () => {
    const sorted = ['10.0.0.10', '10.0.0.9', '9.255.255.255', '10.0.1.0'].sort((a, b) =>
      addressSortKey('A', a) < addressSortKey('A', b) ? -1 : 1,
    );
    expect(sorted).toEqual(['9.255.255.255', '10.0.0.9', '10.0.0.10', '10.0.1.0']);
  });
});

describe('the fast IPv6 path', () => {
  // The definitions before the fast path, kept here as the reference it must agree with.
  const referenceCanonical = (address: string): boolean =>
    /^[0-9a-f:.]{2,45}$/.test(address) && ipaddr.IPv6.isValid(address) && !address.includes('%');
  const referenceKey = (address: string): string =>
    ipaddr.IPv6.parse(address)
      .toNormalizedString()
      .split(':')
      .map((part) => part.padStart(4, '0'))
      .join(':');
  const group = fc.stringMatching(/^[0-9a-fA-F]{0,5}$/);
  const v6ish = fc.oneof(
    fc.array(group, { minLength: 1, maxLength: 10 }).map((groups) => groups.join(':')),
    fc.stringMatching(/^[0-9a-f:.%A-F]{0,41}$/),
    fc
      .array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 })
      .map((parts) => ipaddr.fromByteArray(parts.flatMap((part) => [part >> 8, part & 255])).toString()),
  );

  it('accepts exactly what ipaddr.js accepts and sorts by the same key', () => {
    fc.assert(
      fc.property(v6ish, (address) => {
        const canonical = referenceCanonical(address);
        expect(isCanonicalAddress('AAAA', address)).toBe(canonical);
        if (canonical) expect(addressSortKey('AAAA', address)).toBe(referenceKey(address));
      }),
      { numRuns: 20_000 },
    );
  });

  it.each([
    '2001:db8::1',
    '1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6::8',
    '1::',
    '::1',
    '::',
    '::ffff:1.2.3.4',
    'a:b::c:d',
  ])('agrees on %j', (address) => {
    expect(isCanonicalAddress('AAAA', address)).toBe(referenceCanonical(address));
    if (referenceCanonical(address)) expect(addressSortKey('AAAA', address)).toBe(referenceKey(address));
  });
});
