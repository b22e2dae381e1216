import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { checkZone, lookup } from './check.js';
import { defaultZoneConfig } from './config.js';
import { InvalidZoneError } from './errors.js';
import type { AddressRecord } from './model.js';
import { parseZone } from './parse.js';
import { joinRendered } from './render.js';
import {
  InvalidReverseRangeError,
  parseReverseRanges,
  reverseRecords,
  renderReverseZoneParts,
  reverseName,
  reverseNameOf,
  reverseZoneConfig,
  reverseZoneParts,
  validateReverseZone,
} from './reverse.js';

const forward = defaultZoneConfig('vm.example.com', ['10.10.0.53']);

describe('parseReverseRanges', () => {
  it('gives one reverse origin per range, IPv4 per octet and IPv6 per nibble', () => {
    expect(parseReverseRanges('10.10.0.0/16, fd00:10::/48,192.168.7.0/24,172.0.0.0/8')).toEqual([
      { cidr: '10.10.0.0/16', type: 'A', prefixLength: 16, origin: '10.10.in-addr.arpa' },
      { cidr: 'fd00:10::/48', type: 'AAAA', prefixLength: 48, origin: '0.0.0.0.0.1.0.0.0.0.d.f.ip6.arpa' },
      { cidr: '192.168.7.0/24', type: 'A', prefixLength: 24, origin: '7.168.192.in-addr.arpa' },
      { cidr: '172.0.0.0/8', type: 'A', prefixLength: 8, origin: '172.in-addr.arpa' },
    ]);
    expect(parseReverseRanges(['2001:DB8:0:1::/64'])[0]?.origin).toBe(
      '1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
    );
    expect(parseReverseRanges('')).toEqual([]);
  });

  it.each([
    ['10.10.0.0/12', /octet boundary/],
    ['10.10.0.0/32', /octet boundary/],
    ['10.10.0.0/0', /octet boundary/],
    ['10.10.1.0/16', /host bits are set; did you mean 10.10.0.0\/16/],
    ['fd00:10::/50', /nibble boundary/],
    ['fd00:10::1/48', /host bits are set; did you mean fd00:10::\/48/],
    ['::/0', /nibble boundary/],
    ['10.10.0.0', /expected an address range/],
    ['10.010.0.0/16', /is not an IPv4 or IPv6 address/],
    ['example.com/16', /is not an IPv4 or IPv6 address/],
    ['10.10.0.0/x', /prefix length "x" is not a number/],
    ['::ffff:10.0.0.0/104', /IPv4-mapped/],
  ])('refuses %s with a message naming it', (input, message) => {
    expect(() => parseReverseRanges(input)).toThrow(InvalidReverseRangeError);
    expect(() => parseReverseRanges(input)).toThrow(message);
    expect(() => parseReverseRanges(input)).toThrow(JSON.stringify(input));
  });

  it('refuses duplicate and overlapping ranges', () => {
    expect(() => parseReverseRanges('10.10.0.0/16,10.10.0.0/16')).toThrow('10.10.0.0/16 is given twice');
    expect(() => parseReverseRanges('10.0.0.0/8,10.10.0.0/16')).toThrow(
      'reverse zones 10.0.0.0/8 and 10.10.0.0/16 overlap',
    );
    expect(() => parseReverseRanges('fd00:10::/48,fd00::/16')).toThrow('overlap');
    expect(() => parseReverseRanges('10.1.0.0/16,10.10.0.0/16')).not.toThrow();
  });
});

describe('reverseName', () => {
  it('reverses octets and the 32 nibbles of an IPv6 address', () => {
    expect(reverseName('A', '10.10.3.4')).toBe('4.3.10.10.in-addr.arpa');
    expect(reverseName('AAAA', 'fd00:10::3')).toBe(
      '3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.d.f.ip6.arpa',
    );
    expect(reverseNameOf('::ffff:10.1.2.3')).toBe('3.2.1.10.in-addr.arpa');
    expect(reverseNameOf('FD00:10::3')).toBe(reverseName('AAAA', 'fd00:10::3'));
    expect(reverseNameOf('web.default')).toBeUndefined();
  });
});

const records: AddressRecord[] = [
  { name: 'web.default', type: 'A', address: '10.10.3.4' },
  { name: 'nic1.web.default', type: 'A', address: '10.10.3.4' },
  { name: 'nic1.web.default', type: 'AAAA', address: 'fd00:10::4' },
  { name: 'db.prod', type: 'A', address: '10.10.0.9' },
  { name: 'eth0.db.prod', type: 'A', address: '10.10.0.9' },
  { name: 'eth1.db.prod', type: 'A', address: '10.10.0.9' },
  { name: 'eth0.other.prod', type: 'A', address: '192.0.2.1' },
  { name: 'other.prod', type: 'A', address: '192.0.2.1' },
  { name: 'eth0.far.prod', type: 'AAAA', address: '2001:db8::1' },
];

describe('reverseRecords', () => {
  const ranges = parseReverseRanges('10.10.0.0/16,fd00:10::/48');

  it('gives one PTR per address, naming the most specific name, and counts addresses outside every range', () => {
    const plan = reverseRecords(ranges, forward.origin, records);
    expect(plan.outside).toBe(2);
    expect(plan.zones[0]?.records.map(({ name, target }) => [name, target])).toEqual([
      ['9.0', 'eth0.db.prod.vm.example.com.'],
      ['4.3', 'nic1.web.default.vm.example.com.'],
    ]);
    expect(plan.zones[1]?.records.map(({ name, target }) => [name, target])).toEqual([
      ['4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0', 'nic1.web.default.vm.example.com.'],
    ]);
  });

  it('does not depend on the order of the forward records', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(records, { minLength: records.length }), (shuffled) => {
        expect(reverseRecords(ranges, forward.origin, shuffled)).toEqual(
          reverseRecords(ranges, forward.origin, records),
        );
      }),
    );
  });

  it('puts every address of a range in its zone, under a name that is the address reversed', () => {
    const v4 = fc.tuple(fc.nat(255), fc.nat(255)).map(([c, d]) => `10.10.${c}.${d}`);
    const v6 = fc
      .array(fc.nat(0xffff), { minLength: 5, maxLength: 5 })
      .map((groups) =>
        ipaddr.IPv6.parse(
          `fd00:10:0:${groups.map((group) => group.toString(16)).join(':')}`,
        ).toRFC5952String(),
      );
    fc.assert(
      fc.property(fc.uniqueArray(fc.oneof(v4, v6), { minLength: 1, maxLength: 40 }), (addresses) => {
        const input = addresses.map((address, index): AddressRecord => ({
          name: `n${index}.ns`,
          type: address.includes(':') ? 'AAAA' : 'A',
          address,
        }));
        const plan = reverseRecords(ranges, forward.origin, input);
        expect(plan.outside).toBe(0);
        const published = plan.zones.flatMap((zone) =>
          zone.records.map((record) => `${record.name}.${zone.range.origin}`),
        );
        expect(published.sort()).toEqual(
          input.map((record) => reverseName(record.type, record.address)).sort(),
        );
        for (const zone of plan.zones) {
          const config = reverseZoneConfig(zone.range, forward);
          const text = joinRendered(renderReverseZoneParts(config, zone.records), 7);
          validateReverseZone(text, config, zone.records.length);
        }
      }),
    );
  });
});

describe('renderReverseZoneParts', () => {
  const [range] = parseReverseRanges('10.10.0.0/16');
  if (range === undefined) throw new Error('no range');
  const config = reverseZoneConfig(range, forward);
  const plan = reverseRecords([range], forward.origin, records);
  const text = joinRendered(renderReverseZoneParts(config, plan.zones[0]?.records ?? []), 1764000000);

  it('writes a zone our parser reads without problems, answering PTR for the address', () => {
    expect(text).toBe(
      '; zone 10.10.in-addr.arpa: reverse of 10.10.0.0/16, written by zonewright, do not edit (the next write replaces this file)\n' +
        '$ORIGIN 10.10.in-addr.arpa.\n' +
        '$TTL 30\n' +
        '@\tIN\tSOA\tns.vm.example.com. hostmaster.vm.example.com. 1764000000 300 60 86400 30\n' +
        '@\tIN\tNS\tns.vm.example.com.\n' +
        '9.0\tIN\tPTR\teth0.db.prod.vm.example.com.\n' +
        '4.3\tIN\tPTR\tnic1.web.default.vm.example.com.\n',
    );
    const parsed = parseZone(text);
    expect(parsed.problems).toEqual([]);
    expect(checkZone(parsed)).toEqual([]);
    const answer = lookup(parsed, reverseName('A', '10.10.3.4'), 'PTR');
    expect(answer.status === 'NOERROR' ? answer.records.map((record) => record.rdata[0]) : answer).toEqual([
      'nic1.web.default.vm.example.com',
    ]);
    validateReverseZone(text, config, 2);
  });

  it.each([
    ['a record line that is not a PTR', (zone: string) => `${zone}4.4\tIN\tA\t10.10.4.4\n`, 3],
    ['an owner with too many labels', (zone: string) => `${zone}1.4.4\tIN\tPTR\tx.vm.example.com.\n`, 3],
    ['a relative target', (zone: string) => `${zone}4.4\tIN\tPTR\tx\n`, 3],
    ['a stray directive', (zone: string) => `${zone}$INCLUDE /etc/passwd\n`, 3],
    ['a missing record', (zone: string) => zone, 3],
    ['serial 0', (zone: string) => zone.replace(' 1764000000 ', ' 0 '), 2],
    ['no line end at the end', (zone: string) => zone.slice(0, -1), 2],
    ['an empty line', (zone: string) => `${zone}\n`, 2],
    ['an owner with too few labels', (zone: string) => `${zone}4\tIN\tPTR\tx.vm.example.com.\n`, 3],
    ['an octet above 255', (zone: string) => `${zone}4.256\tIN\tPTR\tx.vm.example.com.\n`, 3],
    [
      'a line over 512 characters',
      (zone: string) => `${zone}4.4\tIN\tPTR\t${`${'a'.repeat(63)}.`.repeat(8)}\n`,
      3,
    ],
    ['a PTR line cut in two', (zone: string) => zone.replace('\tPTR\teth0.', '\tPTR\n\teth0.'), 2],
  ])('validation refuses %s', (_what, change, expected) => {
    expect(() => validateReverseZone(change(text), config, expected)).toThrow(InvalidZoneError);
  });

  it('validation wants exactly the owner labels of the zone, and lines of at most 512 characters', () => {
    const [v6] = parseReverseRanges('fd00:10::/48');
    if (v6 === undefined) throw new Error('no range');
    const v6Config = reverseZoneConfig(v6, forward);
    const owner = Array.from({ length: 20 }, () => 'f').join('.');
    // A target of `length` characters: 63-character labels, then a shorter one.
    const target = (length: number) => `${`${'a'.repeat(63)}.`.repeat(7)}${'b'.repeat(length - 448 - 1)}.`;
    const zone = (line: string) => joinRendered(reverseZoneParts(v6Config, `${line}\n`), 5);
    const line = (ownerName: string, length: number) => `${ownerName}\tIN\tPTR\t${target(length)}`;
    expect(line(owner, 465)).toHaveLength(512);
    expect(() => validateReverseZone(zone(line(owner, 465)), v6Config, 1)).not.toThrow();
    expect(() => validateReverseZone(zone(line(owner, 466)), v6Config, 1)).toThrow(/line 6: not a valid PTR/);
    expect(() => validateReverseZone(zone(line(`${owner}.f`, 500)), v6Config, 1)).toThrow(/line 6/);
    expect(() => validateReverseZone(zone(line(owner.slice(2), 500)), v6Config, 1)).toThrow(/line 6/);
  });
});
