import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assertZoneValid,
  checkWithMiekg,
  checkWithNamedCheckzone,
  dig,
  startNamed,
  NamedError,
  ZoneInvalidError,
} from '@zonewright/testkit';
import type { NamedServer } from '@zonewright/testkit';

const origin = 'peers.zonewright.test';

function zoneText(serial: number, webAddress: string): string {
  return [
    '$TTL 300',
    `$ORIGIN ${origin}.`,
    `@ IN SOA ns.${origin}. hostmaster.${origin}. ( ${serial} 3600 600 86400 30 )`,
    '@ IN NS ns',
    'ns IN A 192.0.2.53',
    `web IN A ${webAddress}`,
    'web IN AAAA 2001:db8::10',
    'db 60 IN A 192.0.2.20',
    '',
  ].join('\n');
}

describe('real DNS peers: zone checkers and named', () => {
  let dir: string;
  let zoneFile: string;
  let named: NamedServer | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zw-peers-'));
    zoneFile = join(dir, `db.${origin}`);
    await writeFile(zoneFile, zoneText(2024010101, '192.0.2.10'));
  });

  afterAll(async () => {
    await named?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  describe('checkers', () => {
    it('both accept a valid zone and agree on serial and owners', async () => {
      const verdicts = await assertZoneValid(origin, zoneFile);
      expect(verdicts.named.serial).toBe(2024010101);
      expect(verdicts.miekg.soaSerial).toBe(2024010101);
      expect(verdicts.miekg.records).toBe(6);
      expect(verdicts.miekg.owners).toEqual([
        `db.${origin}.`,
        `ns.${origin}.`,
        `${origin}.`,
        `web.${origin}.`,
      ]);
      const withRecords = await checkWithMiekg(origin, zoneFile, { records: true });
      expect(withRecords.rrs).toContainEqual({
        name: `db.${origin}.`,
        ttl: 60,
        type: 'A',
        data: '192.0.2.20',
      });
      expect(withRecords.rrs).toContainEqual({
        name: `web.${origin}.`,
        ttl: 300,
        type: 'AAAA',
        data: '2001:db8::10',
      });
      expect(verdicts.miekg.rrs).toBeUndefined();
    });

    it('both reject a bad line after the SOA, and miekg names its line', async () => {
      const bad = join(dir, 'damaged.zone');
      // Line 6 of the zone becomes an A record with an impossible address.
      await writeFile(bad, zoneText(2024010101, '192.0.2.999'));
      const named = await checkWithNamedCheckzone(origin, bad);
      expect(named.ok).toBe(false);
      expect(named.output).toMatch(/damaged\.zone:6: .*bad dotted quad/);
      const miekg = await checkWithMiekg(origin, bad);
      expect(miekg.ok).toBe(false);
      expect(miekg.errors).toEqual([
        { line: 6, column: expect.any(Number), message: 'bad A A: "192.0.2.999"' },
      ]);
      // The parser stops there: the records after the bad line are gone,
      // which is how CoreDNS before 1.11.4 silently truncated such a zone.
      expect(miekg.owners).not.toContain(`db.${origin}.`);
      await expect(assertZoneValid(origin, bad)).rejects.toThrow(ZoneInvalidError);
      await expect(assertZoneValid(origin, bad)).rejects.toThrow(
        /named-checkzone \(REJECTED\)[\s\S]*:6: bad A A/,
      );
    });

    it('both reject a zone without an SOA at its apex', async () => {
      const noSoa = join(dir, 'no-soa.zone');
      await writeFile(noSoa, zoneText(1, '192.0.2.10').replace(/^@ IN SOA .*\n/m, ''));
      expect((await checkWithNamedCheckzone(origin, noSoa)).ok).toBe(false);
      const miekg = await checkWithMiekg(origin, noSoa);
      expect(miekg.ok).toBe(false);
      expect(miekg.soaSerial).toBeNull();
      expect(miekg.errors.map((e) => e.message)).toEqual([`no SOA record at the zone apex ${origin}.`]);
    });

    it('named-checkzone rejects an owner that is not a host name; miekg (like CoreDNS) accepts it', async () => {
      const underscore = join(dir, 'underscore.zone');
      await writeFile(underscore, zoneText(1, '192.0.2.10') + 'bad_name IN A 192.0.2.30\n');
      const named = await checkWithNamedCheckzone(origin, underscore);
      expect(named.ok).toBe(false);
      expect(named.output).toMatch(
        /underscore\.zone:9: bad_name\.peers\.zonewright\.test: bad owner name \(check-names\)/,
      );
      expect((await checkWithMiekg(origin, underscore)).ok).toBe(true);
      await expect(assertZoneValid(origin, underscore)).rejects.toThrow(/bad owner name/);
    });
  });

  describe('named start-up failures', () => {
    it('rejects a zone file that does not load, naming the problem', async () => {
      const bad = join(dir, 'start-bad.zone');
      await writeFile(bad, zoneText(1, '192.0.2.999'));
      await expect(startNamed({ zones: [{ origin, file: bad }] })).rejects.toThrow(
        /not loaded due to errors[\s\S]*bad dotted quad/,
      );
    });

    it('rejects a port that is already taken', async () => {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      try {
        const port = socket.address().port;
        await expect(startNamed({ zones: [{ origin, file: zoneFile }], port })).rejects.toThrow(
          /unable to listen|address in use/,
        );
      } finally {
        socket.close();
      }
    });
  });

  describe('named', () => {
    beforeAll(async () => {
      const started = Date.now();
      named = await startNamed({ zones: [{ origin, file: zoneFile }] });
      console.log(`named answered every SOA ${Date.now() - started} ms after start`);
    });

    const query = (name: string, type: string, tcp = false) => {
      if (!named) throw new Error('named did not start');
      return dig({ server: named.address, port: named.port, name, type, tcp });
    };

    it('listens on loopback on a high port', () => {
      expect(named?.address).toBe('127.0.0.1');
      expect(named?.port).toBeGreaterThanOrEqual(1024);
    });

    it('answers A, AAAA, SOA and NS authoritatively, over UDP and TCP', async () => {
      for (const tcp of [false, true]) {
        const a = await query(`web.${origin}`, 'A', tcp);
        expect(a).toMatchObject({ status: 'NOERROR', aa: true });
        expect(a.answers).toEqual([{ name: `web.${origin}.`, ttl: 300, type: 'A', value: '192.0.2.10' }]);

        const aaaa = await query(`web.${origin}`, 'AAAA', tcp);
        expect(aaaa).toMatchObject({ status: 'NOERROR', aa: true });
        expect(aaaa.answers).toEqual([
          { name: `web.${origin}.`, ttl: 300, type: 'AAAA', value: '2001:db8::10' },
        ]);
      }
      const soa = await query(origin, 'SOA');
      expect(soa).toMatchObject({ status: 'NOERROR', aa: true });
      expect(soa.answers.map((r) => r.value)).toEqual([
        `ns.${origin}. hostmaster.${origin}. 2024010101 3600 600 86400 30`,
      ]);

      const ns = await query(origin, 'NS');
      expect(ns).toMatchObject({ status: 'NOERROR', aa: true });
      expect(ns.answers.map((r) => r.value)).toEqual([`ns.${origin}.`]);
      expect(ns.additional).toContainEqual({
        name: `ns.${origin}.`,
        ttl: 300,
        type: 'A',
        value: '192.0.2.53',
      });

      const ttl = await query(`db.${origin}`, 'A');
      expect(ttl.answers).toEqual([{ name: `db.${origin}.`, ttl: 60, type: 'A', value: '192.0.2.20' }]);
    });

    it('answers NXDOMAIN with the SOA for a missing name', async () => {
      const answer = await query(`missing.${origin}`, 'A');
      expect(answer).toMatchObject({ status: 'NXDOMAIN', aa: true, answers: [] });
      expect(answer.authority.map((r) => [r.name, r.type])).toEqual([[`${origin}.`, 'SOA']]);
    });

    it('answers NODATA (NOERROR, no answer, SOA in authority) for a missing type', async () => {
      const answer = await query(`web.${origin}`, 'MX');
      expect(answer).toMatchObject({ status: 'NOERROR', aa: true, answers: [] });
      expect(answer.authority.map((r) => [r.name, r.type])).toEqual([[`${origin}.`, 'SOA']]);
    });

    it('refuses names outside its zones (recursion is off)', async () => {
      const answer = await query('example.com', 'A');
      expect(answer.status).toBe('REFUSED');
      expect(answer.answers).toEqual([]);
    });

    it('serves a rewritten zone with a higher serial after reload()', async () => {
      await writeFile(zoneFile, zoneText(2024010102, '192.0.2.11'));
      await assertZoneValid(origin, zoneFile);
      const started = Date.now();
      await named?.reload();
      console.log(`named served the new serial ${Date.now() - started} ms after reload()`);
      const a = await query(`web.${origin}`, 'A');
      expect(a.answers.map((r) => r.value)).toEqual(['192.0.2.11']);
      const soa = await query(origin, 'SOA');
      expect(soa.answers[0]?.value).toContain(' 2024010102 ');
    });

    it('reload() of a damaged file rejects, and named keeps serving the zone it had', async () => {
      await writeFile(zoneFile, zoneText(2024010103, '192.0.2.999'));
      await expect(named?.reload()).rejects.toThrow(NamedError);
      const a = await query(`web.${origin}`, 'A');
      expect(a.answers.map((r) => r.value)).toEqual(['192.0.2.11']);
      await writeFile(zoneFile, zoneText(2024010104, '192.0.2.12'));
      await named?.reload();
      expect((await query(`web.${origin}`, 'A')).answers.map((r) => r.value)).toEqual(['192.0.2.12']);
    });

    it('stop() kills named and removes its directory', async () => {
      const server = named;
      if (!server) throw new Error('named did not start');
      named = undefined;
      await server.stop();
      expect(() => process.kill(server.pid, 0)).toThrow();
      expect(existsSync(server.directory)).toBe(false);
      await expect(
        dig({ server: server.address, port: server.port, name: origin, type: 'SOA', tries: 1 }),
      ).rejects.toThrow(/no servers could be reached|connection refused|timed out/);
      await server.stop(); // a second stop is harmless
    });
  });
});
