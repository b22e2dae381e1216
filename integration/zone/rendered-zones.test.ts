import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  assertZoneValid,
  checkWithMiekg,
  checkWithNamedCheckzone,
  dig,
  startNamed,
  type NamedServer,
} from '@zonewright/testkit';
import {
  defaultZoneConfig,
  FileZoneStore,
  joinOwnerName,
  Reconciler,
  renderZone,
  silentLogger,
  systemClock,
  toAddress,
  toLabel,
  type AddressRecord,
  type ClaimedRecord,
} from '@zonewright/zone';

let directory: string;
let named: NamedServer | undefined;

beforeAll(async () => {
  directory = await fs.mkdtemp(path.join(os.tmpdir(), 'zw-zone-it-'));
});
afterAll(async () => {
  await named?.stop();
  await fs.rm(directory, { recursive: true, force: true });
});

const origin = 'vm.example.com';
const config = defaultZoneConfig(origin, ['127.0.0.1']);
const record = (name: string, type: 'A' | 'AAAA', address: string): ClaimedRecord => ({
  name,
  type,
  address,
  claim: 'exclusive',
});

describe('zones written by the reconciler, served by a real named', () => {
  it('answers A, AAAA, SOA and NS, NXDOMAIN and NODATA, and serves a rewrite after a reload', async () => {
    const store = new FileZoneStore(directory);
    const reconciler = new Reconciler({
      config,
      store,
      clock: systemClock,
      logger: silentLogger,
      debounceMs: 20,
    });
    const source = reconciler.registerSource('test');
    await reconciler.start();
    source.upsert('uid-1', [
      record('nic1.web.default', 'A', '10.1.0.5'),
      record('nic1.web.default', 'AAAA', '2001:db8::5'),
      record('web.default', 'A', '10.1.0.5'),
    ]);
    source.markSynced();
    await reconciler.whenReady();
    const file = store.pathOf(origin);
    const verdicts = await assertZoneValid(origin, file);
    expect(verdicts.miekg.owners).toEqual([
      'nic1.web.default.vm.example.com.',
      'ns.vm.example.com.',
      'vm.example.com.',
      'web.default.vm.example.com.',
    ]);

    named = await startNamed({ zones: [{ origin, file }] });
    const ask = (name: string, type: string, tcp = false) =>
      dig({ server: named?.address ?? '127.0.0.1', port: named?.port ?? 53, name, type, tcp });

    const a = await ask('nic1.web.default.vm.example.com', 'A');
    expect(a).toMatchObject({ status: 'NOERROR', aa: true });
    expect(a.answers.map((answer) => answer.value)).toEqual(['10.1.0.5']);
    expect(a.answers[0]?.ttl).toBe(30);
    const aaaa = await ask('nic1.web.default.vm.example.com', 'AAAA', true);
    expect(aaaa.answers.map((answer) => answer.value)).toEqual(['2001:db8::5']);
    const soa = await ask(origin, 'SOA');
    const serial = reconciler.status().serial;
    expect(soa.answers[0]?.value).toBe(
      `ns.vm.example.com. hostmaster.vm.example.com. ${serial} 300 60 86400 30`,
    );
    const ns = await ask(origin, 'NS');
    expect(ns.answers.map((answer) => answer.value)).toEqual(['ns.vm.example.com.']);
    const missing = await ask('db.default.vm.example.com', 'A');
    expect(missing).toMatchObject({ status: 'NXDOMAIN', aa: true, answers: [] });
    expect(missing.authority[0]?.type).toBe('SOA');
    const nodata = await ask('web.default.vm.example.com', 'AAAA');
    expect(nodata).toMatchObject({ status: 'NOERROR', aa: true, answers: [] });
    expect(nodata.authority[0]?.type).toBe('SOA');

    source.upsert('uid-1', [
      record('nic1.web.default', 'A', '10.1.0.77'),
      record('web.default', 'A', '10.1.0.77'),
    ]);
    source.upsert('uid-2', [record('db.default', 'A', '10.1.0.8')]);
    await reconciler.stop();
    expect(reconciler.status().serial).toBeGreaterThan(serial ?? 0);
    await assertZoneValid(origin, file);
    await named.reload();
    expect((await ask('nic1.web.default.vm.example.com', 'A')).answers.map((answer) => answer.value)).toEqual(
      ['10.1.0.77'],
    );
    expect((await ask('nic1.web.default.vm.example.com', 'AAAA')).answers).toEqual([]);
    expect((await ask('db.default.vm.example.com', 'A')).answers.map((answer) => answer.value)).toEqual([
      '10.1.0.8',
    ]);
    expect((await ask(origin, 'SOA')).answers[0]?.value).toContain(` ${reconciler.status().serial} `);
  });
});

describe('arbitrary input through the name and address rules', () => {
  // Interface and VM names as guest agents and users might write them, with characters that must never
  // reach a zone file; addresses valid, invalid and non-routable.
  const nasty = fc.constantFrom(
    ' ',
    ';',
    '$',
    '(',
    ')',
    '"',
    '\\',
    '@',
    '\n',
    '\t',
    '.',
    'é',
    '_',
    '-',
    '*',
    '\u0000',
    'A',
    'z',
    '0',
  );
  const label = fc.oneof(
    { arbitrary: fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,18}[a-zA-Z0-9]$/), weight: 24 },
    { arbitrary: fc.stringMatching(/^[a-zA-Z0-9_-]{1,70}$/), weight: 2 },
    { arbitrary: fc.string({ minLength: 1, maxLength: 12 }), weight: 1 },
    { arbitrary: fc.array(nasty, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('')), weight: 1 },
  );
  const address = fc.oneof(
    { arbitrary: fc.ipV4(), weight: 4 },
    { arbitrary: fc.ipV6(), weight: 4 },
    { arbitrary: fc.string({ maxLength: 20 }), weight: 1 },
    {
      arbitrary: fc.constantFrom(
        '127.0.0.1',
        'fe80::1',
        '10.0.0.1 ; evil',
        '10.0.0.1\nx IN A 1.2.3.4',
        '0.0.0.0',
      ),
      weight: 1,
    },
  );
  const input = fc.record({ iface: label, vmi: label, namespace: label, address });

  it('every zone passes named-checkzone and the miekg parser, with exactly the accepted owner names', async () => {
    const file = path.join(directory, 'property', `db.${origin}`);
    await fs.mkdir(path.dirname(file), { recursive: true });
    let runs = 0;
    let accepted = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(input, { minLength: 1, maxLength: 25 }), async (inputs) => {
        runs += 1;
        const records: AddressRecord[] = [];
        const expected = new Set([`${origin}.`, `ns.${origin}.`]);
        for (const item of inputs) {
          const labels = [toLabel(item.iface), toLabel(item.vmi), toLabel(item.namespace)];
          const ip = toAddress(item.address);
          if (!labels.every((result) => result.ok) || !ip.ok) {
            rejected += 1;
            continue;
          }
          const name = joinOwnerName(
            labels.map((result) => (result.ok ? result.label : '')),
            origin,
          );
          if (!name.ok) continue;
          records.push({ name: name.name, type: ip.type, address: ip.address });
          accepted += 1;
          expected.add(`${name.name}.${origin}.`);
        }
        await fs.writeFile(file, renderZone({ config, serial: 1 + runs, records }));
        const [checkzone, miekg] = await Promise.all([
          checkWithNamedCheckzone(origin, file),
          checkWithMiekg(origin, file),
        ]);
        expect(checkzone.ok).toBe(true);
        expect(miekg.ok).toBe(true);
        expect(new Set(miekg.owners)).toEqual(expected);
      }),
      { numRuns: 40, seed: Number(process.env.ZW_PROPERTY_SEED ?? Date.now() % 100000) },
    );
    expect(runs).toBe(40);
    // Both paths were exercised: inputs that became records and inputs that were refused.
    expect(accepted).toBeGreaterThan(20);
    expect(rejected).toBeGreaterThan(20);
  });
});
