import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { assertZoneValid, findRepoRoot, runCommand, secondaryNicVmi } from '@zonewright/testkit';
import { parseZone, recoverSerial } from '@zonewright/zone';

// `zonewright render` as users run it (the built CLI in its own process): it goes through the same zone plan
// as the watchers, so a second run with the same VMIs leaves the file alone and a changed one raises the serial.
const root = findRepoRoot();
const cli = path.join(root, 'packages/cli/bin/zonewright.js');
const origin = 'vm.example.com';
let directory: string;

beforeAll(async () => {
  directory = await fs.mkdtemp(path.join(os.tmpdir(), 'zw-render-'));
});

afterAll(async () => {
  await fs.rm(directory, { recursive: true, force: true });
});

async function writeVmis(name: string, addresses: Record<string, string>): Promise<string> {
  const file = path.join(directory, name);
  const items = Object.entries(addresses).map(([vmi, address]) => secondaryNicVmi(vmi, 'tenant', [address]));
  await fs.writeFile(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  return file;
}

async function render(vmis: string, ...extra: string[]) {
  const result = await runCommand(
    process.execPath,
    [cli, 'render', '--vmis', vmis, '--domain', 'example.com', '--name-server-ip', '127.0.0.1', ...extra],
    { timeoutMs: 30_000 },
  );
  expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({
    code: 0,
    stderr: '',
  });
  return result;
}

function addresses(text: string): string[] {
  return parseZone(text, { origin })
    .records.filter((record) => record.type === 'A' && !record.name.startsWith('ns.'))
    .map((record) => `${record.name} ${record.rdata[0] ?? ''}`);
}

describe('zonewright render', () => {
  it('prints a zone both parsers accept, logging what it left out', async () => {
    const vmis = await writeVmis('print.json', { web: '192.0.2.10', db: '192.0.2.11', lo: '127.0.0.5' });
    const { stdout, stderr } = await render(vmis, '--serial', '7');
    expect(stderr).toMatch(/skipped: .*127\.0\.0\.5/);
    expect(recoverSerial(stdout, origin)).toBe(7);
    expect(addresses(stdout)).toEqual([
      'db.tenant.vm.example.com 192.0.2.11',
      'nic1.db.tenant.vm.example.com 192.0.2.11',
      'web.tenant.vm.example.com 192.0.2.10',
      'nic1.web.tenant.vm.example.com 192.0.2.10',
    ]);
    const file = path.join(directory, 'printed.zone');
    await fs.writeFile(file, stdout);
    await assertZoneValid(origin, file);
  });

  it('writes once, leaves an unchanged zone alone, and raises the serial when a VMI changes', async () => {
    const zones = path.join(directory, 'zones');
    const zoneFile = path.join(zones, `db.${origin}`);
    const first = await writeVmis('first.json', { web: '192.0.2.10' });
    await render(first, '--zones-dir', zones);
    const written = await fs.readFile(zoneFile, 'utf8');
    const before = await fs.stat(zoneFile);
    await assertZoneValid(origin, zoneFile);

    const again = await render(first, '--zones-dir', zones);
    expect(again.stdout + again.stderr).toMatch(/zone vm\.example\.com unchanged/);
    expect(await fs.readFile(zoneFile, 'utf8')).toBe(written);
    expect((await fs.stat(zoneFile)).ino).toBe(before.ino); // not even rewritten

    const changed = await writeVmis('changed.json', { web: '192.0.2.20' });
    const third = await render(changed, '--zones-dir', zones);
    expect(third.stdout + third.stderr).toMatch(
      /wrote zone vm\.example\.com serial \d+: 2 records from 1 VMIs/,
    );
    const after = await fs.readFile(zoneFile, 'utf8');
    expect(recoverSerial(after, origin)).toBeGreaterThan(recoverSerial(written, origin) ?? Infinity);
    expect(addresses(after)).toEqual([
      'web.tenant.vm.example.com 192.0.2.20',
      'nic1.web.tenant.vm.example.com 192.0.2.20',
    ]);
    await assertZoneValid(origin, zoneFile);
    expect((await fs.readdir(zones)).sort()).toEqual([`db.${origin}`]);
  });
});
