/**
 * What users see: the real `zonewright monitor` (directory source over examples/vmis, watched live) writes the
 * VMI zone; a real CoreDNS runs the shipped corefile/Corefile.monitor (testkit startCoreDns) and answers.
 * - every record of the zone, as CoreDNS's own parser (miekg/dns, tools/zonecheck) reads the file, is answered
 *   over UDP and over TCP, authoritatively;
 * - a missing name is NXDOMAIN, a missing type NODATA, both with `aa` and the zone's SOA;
 * - a changed VMI is answered after the monitor's rewrite (time measured);
 * - a damaged zone file never replaces the served zone;
 * - no temporary file is ever loaded as a zone (CoreDNS logs every zone it inserts).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkWithMiekg,
  cleanUp,
  coreDnsForTests,
  killProcessTree,
  findRepoRoot,
  spawnProcess,
  startCoreDns,
  waitFor,
} from '@zonewright/testkit';
import type { CoreDnsServer, DigAnswer, MiekgRecord, SpawnedProcess } from '@zonewright/testkit';

const coreDns = coreDnsForTests('integration/coredns/answers.test.ts');
const describeCoreDns = coreDns ? describe : describe.skip;

const DOMAIN = `answers${Math.floor(Math.random() * 1e6)}.test`;
const ORIGIN = `vm.${DOMAIN}`;
const ZONE_FILE = `db.${ORIGIN}`;

function serialOf(text: string): number {
  const serial = /SOA\s+\S+\s+\S+\s+\(?\s*(\d+)/.exec(text)?.[1];
  if (serial === undefined) throw new Error(`no SOA serial in:\n${text.slice(0, 500)}`);
  return Number(serial);
}

/** dig prints a record's data as miekg/dns does, except for letter case of names. */
function values(answer: DigAnswer, type: string): string[] {
  return answer.answers
    .filter((record) => record.type === type)
    .map((record) => record.value.toLowerCase())
    .sort();
}

function expectAuthoritativeNegative(answer: DigAnswer, status: 'NXDOMAIN' | 'NOERROR'): void {
  expect(answer.status).toBe(status);
  expect(answer.aa).toBe(true);
  expect(answer.answers).toEqual([]);
  expect(answer.authority.map((record) => [record.name, record.type])).toEqual([[`${ORIGIN}.`, 'SOA']]);
}

describeCoreDns('CoreDNS (Corefile.monitor) answers the zone the monitor writes', () => {
  let dir = '';
  let vmiDir = '';
  let zonesDir = '';
  let monitor: SpawnedProcess | undefined;
  let server: CoreDnsServer | undefined;
  const measured: Record<string, number> = {};

  const coredns = (): CoreDnsServer => {
    if (server === undefined) throw new Error('CoreDNS did not start');
    return server;
  };
  const zoneText = (): Promise<string> => readFile(join(zonesDir, ZONE_FILE), 'utf8');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zw-coredns-answers-'));
    vmiDir = join(dir, 'vmis');
    zonesDir = join(dir, 'zones');
    await cp(join(findRepoRoot(), 'examples', 'vmis'), vmiDir, { recursive: true });
    monitor = await spawnProcess(
      process.execPath,
      [
        join(findRepoRoot(), 'packages/cli/bin/zonewright.js'),
        'monitor',
        '--source=directory',
        `--vmi-dir=${vmiDir}`,
        `--zones-dir=${zonesDir}`,
        `--domain=${DOMAIN}`,
        '--name-server-ip=192.0.2.53',
        '--listen=',
        '--log-format=text',
      ],
      { cwd: dir },
    );
    const started = monitor;
    const firstSerial = await waitFor(
      async () => {
        if (started.exitStatus()) throw new Error(`monitor exited:\n${started.output()}`);
        const text = await zoneText().catch(() => undefined); // none until the first write
        return text === undefined ? undefined : serialOf(text);
      },
      { timeoutMs: 30_000, intervalMs: 50, description: `the monitor to write ${ZONE_FILE}` },
    );
    server = await startCoreDns({ corefile: 'monitor', zonesDirectory: zonesDir });
    await server.waitReady();
    await server.waitForSerial(ORIGIN, firstSerial);
  }, 60_000);

  afterAll(async () => {
    console.log(`CoreDNS answers measurements: ${JSON.stringify(measured)}`);
    await cleanUp('coredns answers', [
      () => server?.stop(),
      () => (monitor === undefined ? undefined : killProcessTree(monitor.pid)),
      () => dir === '' || rm(dir, { recursive: true, force: true }),
    ]);
  });

  it('answers every record of the zone over UDP and TCP, authoritatively', async () => {
    const report = await checkWithMiekg(ORIGIN, join(zonesDir, ZONE_FILE), { records: true });
    expect(report.ok).toBe(true);
    const rrs = report.rrs ?? [];
    // The example VMIs give A and AAAA records for several names besides SOA, NS and the NS glue.
    expect(rrs.filter((record) => record.type === 'A').length).toBeGreaterThan(3);
    expect(rrs.some((record) => record.type === 'AAAA')).toBe(true);
    const rrsets = new Map<string, MiekgRecord[]>();
    for (const record of rrs) {
      const key = `${record.name} ${record.type}`;
      rrsets.set(key, [...(rrsets.get(key) ?? []), record]);
    }
    for (const [key, records] of rrsets) {
      const [name = '', type = ''] = key.split(' ');
      const expected = records.map((record) => record.data.toLowerCase()).sort();
      for (const tcp of [false, true]) {
        const answer = await coredns().query(name, type, { tcp });
        expect({ key, tcp, status: answer.status, aa: answer.aa, values: values(answer, type) }).toEqual({
          key,
          tcp,
          status: 'NOERROR',
          aa: true,
          values: expected,
        });
        for (const record of answer.answers) expect(record.ttl).toBe(records[0]?.ttl);
      }
    }
  });

  it('answers NXDOMAIN for a missing name and NODATA for a missing type, both with aa and the SOA', async () => {
    for (const tcp of [false, true]) {
      expectAuthoritativeNegative(
        await coredns().query(`no-such-vm.default.${ORIGIN}`, 'A', { tcp }),
        'NXDOMAIN',
      );
      // web-frontend.default exists (A + AAAA) but has no TXT.
      expectAuthoritativeNegative(
        await coredns().query(`web-frontend.default.${ORIGIN}`, 'TXT', { tcp }),
        'NOERROR',
      );
    }
  });

  it('answers a changed VMI address after the monitor rewrites the zone', async () => {
    const before = await coredns().query(`nic1.web-frontend.default.${ORIGIN}`, 'A');
    expect(values(before, 'A')).toEqual(['192.0.2.10']);
    const file = join(vmiDir, 'web-frontend.yaml');
    const text = await readFile(file, 'utf8');
    await writeFile(join(vmiDir, '.web-frontend.yaml.new'), text.replaceAll('192.0.2.10', '192.0.2.110'));
    const changed = Date.now();
    await rename(join(vmiDir, '.web-frontend.yaml.new'), file);
    await waitFor(
      async () => {
        const answer = await coredns().query(`nic1.web-frontend.default.${ORIGIN}`, 'A', { tries: 1 });
        return values(answer, 'A').join() === '192.0.2.110' ? true : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 20, description: 'CoreDNS to answer the changed address' },
    );
    measured['VMI file changed → CoreDNS answers, ms (shipped reload, one sample)'] = Date.now() - changed;
  });

  it('keeps serving the loaded zone when the zone file is replaced by a damaged one', async () => {
    const good = await zoneText();
    const serial = serialOf(good);
    const lines = good.split('\n');
    const soaLine = lines.findIndex((line) => / SOA /.test(line));
    // A syntax error after the SOA: CoreDNS < 1.11.4 would serve everything after it as NXDOMAIN.
    const damaged = [
      ...lines.slice(0, soaLine).map((line) => line.replace(String(serial), String(serial + 1000))),
      lines[soaLine]?.replace(String(serial), String(serial + 1000)) ?? '',
      'broken-line IN A not-an-address',
      ...lines.slice(soaLine + 1),
    ].join('\n');
    expect(damaged).toContain(String(serial + 1000));
    const logFrom = coredns().logLines().length;
    await writeFile(join(zonesDir, 'damaged.part'), damaged);
    await rename(join(zonesDir, 'damaged.part'), join(zonesDir, ZONE_FILE));
    await waitFor(
      () =>
        coredns()
          .logLines()
          .slice(logFrom)
          .some((line) => /\[ERROR\].*Parsing zone/.test(line))
          ? true
          : undefined,
      { timeoutMs: 15_000, intervalMs: 50, description: 'CoreDNS to refuse the damaged zone' },
    );
    const soa = await coredns().query(ORIGIN, 'SOA');
    expect(Number(soa.answers[0]?.value.split(' ')[2])).toBe(serial);
    const after = await coredns().query(`nic1.web-frontend.default.${ORIGIN}`, 'A', { tcp: true });
    expect({ status: after.status, values: values(after, 'A') }).toEqual({
      status: 'NOERROR',
      values: ['192.0.2.110'],
    });
    // Put the monitor's zone back (with a serial CoreDNS has not seen) for the next test.
    await writeFile(join(zonesDir, 'restored.part'), good.replace(String(serial), String(serial + 2000)));
    await rename(join(zonesDir, 'restored.part'), join(zonesDir, ZONE_FILE));
    await coredns().waitForSerial(ORIGIN, serial + 2000);
  });

  it('never loads a temporary file as a zone, also one a crashed writer left behind', async () => {
    // What the store leaves behind when it dies between write and rename (a complete zone text).
    await writeFile(join(zonesDir, `.zonewright-99999-0123456789ab.tmp`), await zoneText());
    // The monitor rewrites the zone through its temp files a few times while CoreDNS scans the directory.
    const file = join(vmiDir, 'web-frontend.yaml');
    for (const address of ['192.0.2.111', '192.0.2.112', '192.0.2.113']) {
      const text = await readFile(file, 'utf8');
      await writeFile(join(vmiDir, '.web-frontend.yaml.new'), text.replace(/192\.0\.2\.11\d/g, address));
      await rename(join(vmiDir, '.web-frontend.yaml.new'), file);
      await waitFor(
        async () => {
          const answer = await coredns().query(`nic1.web-frontend.default.${ORIGIN}`, 'A', { tries: 1 });
          return values(answer, 'A').join() === address ? true : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 50, description: `CoreDNS to answer ${address}` },
      );
    }
    const inserted = coredns()
      .logLines()
      .filter((line) => /Inserting zone/.test(line));
    expect(inserted.length).toBeGreaterThan(0);
    for (const line of inserted)
      expect(line).toMatch(
        new RegExp(
          `zone \`${ORIGIN.replaceAll('.', '\\.')}\\.?' from: \\S*/${ZONE_FILE.replaceAll('.', '\\.')}$`,
        ),
      );
    expect(coredns().logLines().join('\n')).not.toMatch(/zonewright-\d+-[0-9a-f]+\.tmp/);
  });
});
