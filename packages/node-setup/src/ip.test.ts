import { describe, expect, it } from '@jest/globals';
import { cidrContains, formatAddress, isLoopback, parseAddress, parseCidr } from './ip.js';

describe('parseAddress', () => {
  it.each([
    ['10.0.0.1', 4, 0x0a000001n],
    ['::1', 6, 1n],
    ['2001:DB8::1', 6, (0x20010db8n << 96n) | 1n],
    ['::ffff:1.2.3.4', 6, (0xffffn << 32n) | 0x01020304n],
  ])('reads %s', (text, family, value) => {
    expect(parseAddress(text)).toEqual({ family, value });
  });

  it.each(['010.0.0.1', '1.2.3', '256.1.1.1', '0x10.0.0.1', ' 10.0.0.1', '1::2::3', 'fe80::1%eth0', ''])(
    'refuses %j',
    (text) => {
      expect(parseAddress(text)).toBeUndefined();
    },
  );
});

describe('parseCidr', () => {
  it('gives the block and tells when host bits are set', () => {
    expect(parseCidr('172.38.0.1/16')).toEqual({
      family: 4,
      prefix: 16,
      network: 0xac260000n,
      last: 0xac26ffffn,
      hostBitsSet: true,
    });
    const v6 = parseCidr('2001:db8::/32');
    expect(v6?.hostBitsSet).toBe(false);
    expect(formatAddress(6, v6?.last ?? 0n)).toBe('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff');
  });

  it.each(['10.0.0.0/33', '2001:db8::/129', '10.0.0.0/', '/8', '10.0.0.0', '10.0.0.0/ 8'])(
    'refuses %j',
    (text) => {
      expect(parseCidr(text)).toBeUndefined();
    },
  );

  it('checks membership and loopback on the parsed values', () => {
    const block = parseCidr('10.1.0.0/24');
    const inside = parseAddress('10.1.0.200');
    const outside = parseAddress('10.1.1.1');
    expect(block && inside && cidrContains(block, inside)).toBe(true);
    expect(block && outside && cidrContains(block, outside)).toBe(false);
    expect(isLoopback(parseAddress('127.0.0.53') ?? { family: 4, value: 0n })).toBe(true);
    expect(formatAddress(6, parseCidr('2001:db8::1/32')?.network ?? 0n)).toBe('2001:db8::');
  });
});
