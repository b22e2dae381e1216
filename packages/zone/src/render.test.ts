import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { checkZone } from './check.js';
import { defaultZoneConfig } from './config.js';
import { InvalidZoneError } from './errors.js';
import type { AddressRecord } from './model.js';
import { parseZone } from './parse.js';
import {
  joinRendered,
  recoverSerial,
  renderZone,
  renderZoneParts,
  splitRenderedSerial,
  validateRenderedZone,
} from './render.js';

const config = defaultZoneConfig('vm.example.com', ['10.0.0.53', '2001:db8::53']);
const records: AddressRecord[] = [
  { name: 'web.default', type: 'A', address: '10.1.0.9' },
  { name: 'nic1.web.default', type: 'AAAA', address: '2001:db8:1::9' },
  { name: 'nic1.web.default', type: 'A', address: '10.1.0.10' },
  { name: 'nic1.web.default', type: 'A', address: '10.1.0.9' },
  { name: 'db.prod', type: 'A', address: '10.2.0.1' },
  { name: 'web.default', type: 'A', address: '10.1.0.9' },
];

describe('renderZone', () => {
  it('writes SOA, NS, glue and sorted, de-duplicated records', () => {
    expect(renderZone({ config, serial: 1764072000, records })).toBe(
      [
        '; zone vm.example.com: written by zonewright, do not edit (the next write replaces this file)',
        '$ORIGIN vm.example.com.',
        '$TTL 30',
        '@\tIN\tSOA\tns.vm.example.com. hostmaster.vm.example.com. 1764072000 300 60 86400 30',
        '@\tIN\tNS\tns.vm.example.com.',
        'ns\tIN\tA\t10.0.0.53',
        'ns\tIN\tAAAA\t2001:db8::53',
        'web.default\tIN\tA\t10.1.0.9',
        'nic1.web.default\tIN\tA\t10.1.0.9',
        'nic1.web.default\tIN\tA\t10.1.0.10',
        'nic1.web.default\tIN\tAAAA\t2001:db8:1::9',
        'db.prod\tIN\tA\t10.2.0.1',
        '',
      ].join('\n'),
    );
  });

  it('gives the same bytes for any order of the same records', () => {
    const expected = renderZone({ config, serial: 7, records });
    fc.assert(
      fc.property(fc.shuffledSubarray(records, { minLength: records.length }), (shuffled) => {
        expect(renderZone({ config, serial: 7, records: shuffled })).toBe(expected);
      }),
    );
  });

  it('parses back to the same records with no problems', () => {
    const text = renderZone({ config, serial: 9, records });
    const parsed = parseZone(text);
    expect(checkZone(parsed)).toEqual([]);
    expect(parsed.origin).toBe('vm.example.com');
    const addresses = parsed.records
      .filter((record) => record.type === 'A' || record.type === 'AAAA')
      .map((record) => `${record.name} ${record.type} ${record.rdata[0] ?? ''}`);
    expect(addresses).toContain('nic1.web.default.vm.example.com AAAA 2001:db8:1::9');
    expect(addresses).toContain('db.prod.vm.example.com A 10.2.0.1');
    expect(addresses).toHaveLength(7);
  });

  it('refuses a record whose name or address is not valid instead of writing it', () => {
    const bad: AddressRecord[] = [{ name: 'x\nevil IN A 1.2.3.4', type: 'A', address: '10.0.0.1' }];
    expect(() => renderZoneParts(config, bad)).toThrow(InvalidZoneError);
    expect(() => renderZoneParts(config, [{ name: 'ok', type: 'A', address: '10.0.0.1 ; x' }])).toThrow(
      InvalidZoneError,
    );
    expect(() => renderZoneParts(config, [{ name: 'ok', type: 'A', address: '2001:db8::1' }])).toThrow(
      InvalidZoneError,
    );
  });
});

describe('serial helpers', () => {
  it('reads and replaces the serial of rendered text', () => {
    const parts = renderZoneParts(config, records);
    const text = joinRendered(parts, 123456);
    expect(recoverSerial(text, config.origin)).toBe(123456);
    expect(splitRenderedSerial(text)).toEqual(parts);
    expect(splitRenderedSerial('not a zone')).toBeUndefined();
  });
});

describe('validateRenderedZone', () => {
  const parts = renderZoneParts(config, records);
  const recordCount = new Set(records.map((record) => `${record.name} ${record.type} ${record.address}`))
    .size;
  const text = joinRendered(parts, 42);

  it('accepts what the renderer wrote', () => {
    expect(() => {
      validateRenderedZone(text, config, recordCount);
    }).not.toThrow();
  });

  it.each([
    [
      'an injected line',
      text.replace('db.prod\tIN\tA\t10.2.0.1\n', 'db.prod\tIN\tA\t10.2.0.1\n$INCLUDE /etc/passwd\n'),
    ],
    ['a bad address', text.replace('10.2.0.1', '10.2.0.300')],
    ['a bad name', text.replace('db.prod', 'db..prod')],
    ['serial 0', joinRendered(parts, 0)],
    ['a missing line', text.replace('db.prod\tIN\tA\t10.2.0.1\n', '')],
  ])('rejects %s', (_what, damaged) => {
    expect(() => {
      validateRenderedZone(damaged, config, recordCount);
    }).toThrow(InvalidZoneError);
  });
});

describe('interoperability', () => {
  it('parses with dns-zonefile too (an independent parser) to the same address records', async () => {
    const zonefile = (await import('dns-zonefile')).default;
    const text = renderZone({ config, serial: 77, records });
    const parsed = zonefile.parse(text) as {
      soa?: { serial?: number };
      a?: { name: string; ip: string }[];
      aaaa?: { name: string; ip: string }[];
    };
    expect(parsed.soa?.serial).toBe(77);
    const seen = [
      ...(parsed.a ?? []).map((entry) => `${entry.name} A ${entry.ip}`),
      ...(parsed.aaaa ?? []).map((entry) => `${entry.name} AAAA ${entry.ip}`),
    ].sort();
    expect(seen).toEqual(
      [
        'ns A 10.0.0.53',
        'ns AAAA 2001:db8::53',
        'web.default A 10.1.0.9',
        'nic1.web.default A 10.1.0.9',
        'nic1.web.default A 10.1.0.10',
        'nic1.web.default AAAA 2001:db8:1::9',
        'db.prod A 10.2.0.1',
      ].sort(),
    );
  });
});
