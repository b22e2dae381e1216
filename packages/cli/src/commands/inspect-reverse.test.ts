import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  defaultZoneConfig,
  FileZoneStore,
  joinRendered,
  parseReverseRanges,
  reverseRecords,
  renderReverseZoneParts,
  renderZone,
  reverseZoneConfig,
  type AddressRecord,
} from '@zonewright/zone';
import { runCheck } from './check.js';
import { runInspect } from './inspect.js';

let directory: string;
const records: AddressRecord[] = [
  { name: 'nic1.web.default', type: 'A', address: '10.1.0.5' },
  { name: 'web.default', type: 'A', address: '10.1.0.5' },
  { name: 'nic1.web.default', type: 'AAAA', address: 'fd00:10::5' },
];

beforeAll(async () => {
  directory = await fs.mkdtemp(path.join(os.tmpdir(), 'zw-cli-reverse-'));
  const config = defaultZoneConfig('vm.example.com', ['10.0.0.53']);
  const store = new FileZoneStore(directory);
  await store.write(config.origin, renderZone({ config, serial: 7, records }));
  const ranges = parseReverseRanges('10.1.0.0/16,fd00:10::/48');
  for (const zone of reverseRecords(ranges, config.origin, records).zones) {
    const reverse = reverseZoneConfig(zone.range, config);
    await store.write(reverse.origin, joinRendered(renderReverseZoneParts(reverse, zone.records), 7));
  }
});
afterAll(async () => {
  await fs.rm(directory, { recursive: true, force: true });
});

async function run(name: string, type?: string): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runInspect(
    { target: directory, json: false, name, ...(type === undefined ? {} : { type }) },
    (line) => lines.push(line),
  );
  return { code, lines };
}

describe('inspect --name with an address', () => {
  it('answers the PTR of an IPv4 and an IPv6 address from the reverse zones', async () => {
    expect(await run('10.1.0.5')).toEqual({
      code: 0,
      lines: [
        'NAME                    TTL  TYPE  VALUE',
        '5.0.1.10.in-addr.arpa.  30   PTR   nic1.web.default.vm.example.com',
      ],
    });
    const v6 = await run('FD00:10::5');
    expect(v6.code).toBe(0);
    expect(v6.lines[1]).toMatch(
      /^5(\.0){24}\.1\.0\.0\.0\.0\.d\.f\.ip6\.arpa\. +30 +PTR +nic1\.web\.default\.vm\.example\.com$/,
    );
  });

  it('says NXDOMAIN for an address in a range with no VM, NOTAUTH outside every range', async () => {
    expect((await run('10.1.0.6')).lines).toEqual([
      'NXDOMAIN: 6.0.1.10.in-addr.arpa. does not exist in zone 1.10.in-addr.arpa.',
    ]);
    expect((await run('192.0.2.1')).lines[0]).toMatch(/^NOTAUTH: 1\.2\.0\.192\.in-addr\.arpa\./);
  });

  it('check passes the reverse zones', async () => {
    const lines: string[] = [];
    await runCheck({ target: directory }, (line) => lines.push(line));
    expect(lines.filter((line) => line.includes('.arpa: ok, zone'))).toHaveLength(2);
  });
});
