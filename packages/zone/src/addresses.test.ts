import { describe, expect, it } from '@jest/globals';
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
