import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { checkZone } from './check.js';
import { defaultZoneConfig } from './config.js';
import { InvalidZoneError, SerialExhaustedError } from './errors.js';
import type { ClaimedRecord } from './model.js';
import { parseZone } from './parse.js';
import { planZone, previousZoneFromText, type ZonePlan } from './plan.js';
import { validateRenderedZone } from './render.js';
import { MAX_SERIAL } from './serial.js';

const config = defaultZoneConfig('vm.example.com', ['10.0.0.53']);
const now = Date.UTC(2026, 11, 1);
const nowSeconds = now / 1000;
const rec = (name: string, address: string, claim: ClaimedRecord['claim'] = 'exclusive'): ClaimedRecord => ({
  name,
  type: address.includes(':') ? 'AAAA' : 'A',
  address,
  claim,
});
const entries: [string, ClaimedRecord[]][] = [
  ['default/web', [rec('web.default', '10.1.0.9'), rec('nic1.web.default', '2001:db8::9')]],
  ['prod/db', [rec('db.prod', '10.2.0.1')]],
];

function written(plan: ZonePlan): Extract<ZonePlan, { status: 'write' }> {
  if (plan.status !== 'write') throw new Error(`expected a write, got ${plan.status}`);
  return plan;
}

function addresses(text: string): string[] {
  const parsed = parseZone(text, { origin: config.origin });
  expect(checkZone(parsed)).toEqual([]);
  return parsed.records
    .filter((record) => record.type === 'A' || record.type === 'AAAA')
    .map((record) => `${record.name} ${record.type} ${record.rdata[0] ?? ''}`);
}

describe('planZone', () => {
  it('plans the first zone: text, serial from the clock, every record added', () => {
    const plan = written(planZone(config, entries, {}, { nowMs: now }));
    expect(plan.serial).toBe(nowSeconds);
    expect(plan.diff).toEqual({ added: 3, removed: 0 });
    expect(plan.records.map((record) => record.name)).toEqual(['web.default', 'nic1.web.default', 'db.prod']);
    expect(addresses(plan.text)).toEqual([
      'ns.vm.example.com A 10.0.0.53',
      'web.default.vm.example.com A 10.1.0.9',
      'nic1.web.default.vm.example.com AAAA 2001:db8::9',
      'db.prod.vm.example.com A 10.2.0.1',
    ]);
  });

  it('is idempotent: current == desired gives unchanged, from a plan or from the file it wrote', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(entries, { minLength: entries.length }), (shuffled) => {
        const first = written(planZone(config, entries, {}, { nowMs: now }));
        const again = planZone(
          config,
          shuffled,
          { serial: first.serial, records: first.records },
          { nowMs: now + 5000 },
        );
        expect(again.status).toBe('unchanged');
        const fromDisk = planZone(config, shuffled, previousZoneFromText(first.text, config.origin), {
          nowMs: now + 5000,
        });
        expect(fromDisk.status).toBe('unchanged');
        expect(fromDisk.records).toEqual(first.records);
      }),
    );
  });

  it('counts a change and keeps the serial above the previous one, even when the clock went back', () => {
    const first = written(planZone(config, entries, {}, { nowMs: now }));
    const changed: [string, ClaimedRecord[]][] = [
      entries[0] ?? ['x', []],
      ['prod/db', [rec('db.prod', '10.2.0.2')]],
    ];
    const second = written(
      planZone(config, changed, { serial: first.serial, records: first.records }, { nowMs: now - 3_600_000 }),
    );
    expect(second.serial).toBe(first.serial + 1);
    expect(second.diff).toEqual({ added: 1, removed: 1 });
    expect(addresses(second.text)).toContain('db.prod.vm.example.com A 10.2.0.2');
  });

  it('writes over a file that is not ours, continuing above its serial', () => {
    const foreign = `$ORIGIN vm.example.com.\n@ 30 IN SOA ns hostmaster ${nowSeconds + 100} 1 1 1 1\n@ IN NS ns\nns IN A 10.0.0.53\n`;
    const plan = written(
      planZone(config, entries, previousZoneFromText(foreign, config.origin), { nowMs: now }),
    );
    expect(plan.serial).toBe(nowSeconds + 101);
  });

  it('uses a given serial, and is unchanged only when the file already has it', () => {
    const first = written(planZone(config, entries, {}, { nowMs: now, serial: 42 }));
    expect(first.serial).toBe(42);
    const previous = previousZoneFromText(first.text, config.origin);
    expect(planZone(config, entries, previous, { nowMs: now, serial: 42 }).status).toBe('unchanged');
    expect(written(planZone(config, entries, previous, { nowMs: now, serial: 43 })).serial).toBe(43);
  });

  it('returns conflicts and rejections with the records that stay', () => {
    const plan = written(
      planZone(
        config,
        [
          ['b/web', [rec('web', '10.0.0.2')]],
          ['a/web', [rec('web', '10.0.0.1')]],
          ['c/bad', [rec('ns', '10.0.0.3'), rec('ok', '10.0.0.300')]],
        ],
        {},
        { nowMs: now },
      ),
    );
    expect(plan.conflicts).toEqual([{ name: 'web', winner: 'a/web', loser: 'b/web' }]);
    expect(plan.rejected.map((skipped) => skipped.reason)).toEqual(['reserved-name', 'invalid-address']);
    expect(addresses(plan.text)).toEqual(['ns.vm.example.com A 10.0.0.53', 'web.vm.example.com A 10.0.0.1']);
  });

  it('refuses instead of throwing when the serial is used up; the error says why', () => {
    const plan = planZone(config, entries, { serial: MAX_SERIAL }, { nowMs: now });
    expect(plan.status).toBe('refused');
    if (plan.status === 'refused') expect(plan.error).toBeInstanceOf(SerialExhaustedError);
  });
});

describe('validateRenderedZone (the frame comes from the configuration)', () => {
  const plan = written(planZone(config, entries, {}, { nowMs: now }));

  it.each([
    ['another TTL', defaultZoneConfig('vm.example.com', ['10.0.0.53'], 60)],
    ['another glue address', defaultZoneConfig('vm.example.com', ['10.0.0.54'])],
    ['another origin', defaultZoneConfig('vm.example.org', ['10.0.0.53'])],
  ])('rejects text whose frame differs: %s', (_what, other) => {
    expect(() => {
      validateRenderedZone(plan.text, other, plan.records.length);
    }).toThrow(InvalidZoneError);
  });

  it('names the line of an appended record and of a wrong count', () => {
    expect(() => {
      validateRenderedZone(`${plan.text}extra\tIN\tTXT\t"x"\n`, config, plan.records.length);
    }).toThrow(/line 10: not a valid address record/);
    expect(() => {
      validateRenderedZone(plan.text, config, plan.records.length + 1);
    }).toThrow(/expected 4 address records, found 3/);
  });
});
