import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultZoneConfig, FileZoneStore, renderZone } from '@zonewright/zone';
import { ProblemsFoundError, UsageError } from '../errors.js';
import { runCheck } from './check.js';
import { runInspect } from './inspect.js';

let directory: string;
const serial = Date.UTC(2026, 10, 25, 12, 0, 0) / 1000;

beforeAll(async () => {
  directory = await fs.mkdtemp(path.join(os.tmpdir(), 'zw-cli-'));
  const config = defaultZoneConfig('vm.example.com', ['10.0.0.53']);
  await new FileZoneStore(directory).write(
    config.origin,
    renderZone({
      config,
      serial,
      records: [
        { name: 'nic1.web.default', type: 'A', address: '10.1.0.5' },
        { name: 'web.default', type: 'A', address: '10.1.0.5' },
      ],
    }),
  );
  await fs.mkdir(path.join(directory, 'bad'));
  await fs.writeFile(
    path.join(directory, 'bad', 'db.broken.test'),
    ['$TTL 30', '@ IN SOA ns h 0 1 1 1 1', '@ IN NS ns', 'www IN A 10.0.0.300', 'ok IN A 10.0.0.1', ''].join(
      '\n',
    ),
  );
});
afterAll(async () => {
  await fs.rm(directory, { recursive: true, force: true });
});

function collect(): { lines: string[]; out: (line: string) => void } {
  const lines: string[] = [];
  return { lines, out: (line) => lines.push(line) };
}

describe('check', () => {
  it('passes a good zone', async () => {
    const { lines, out } = collect();
    await runCheck({ target: path.join(directory, 'db.vm.example.com') }, out);
    expect(lines).toEqual([
      expect.stringMatching(/db\.vm\.example\.com: ok, zone vm\.example\.com serial 1795608000, 5 records$/),
    ]);
  });

  it('reports file:line problems and fails on a damaged zone', async () => {
    const { lines, out } = collect();
    await expect(runCheck({ target: directory, quiet: true }, out)).rejects.toThrow(ProblemsFoundError);
    const file = path.join(directory, 'bad', 'db.broken.test');
    expect(lines).toEqual([
      `${file}:2: SOA serial is 0: secondaries and CoreDNS treat 0 specially; use 1 or a Unix time`,
      `${file}:3: NS target ns.broken.test. is inside the zone but has no A or AAAA record (glue)`,
      `${file}:4: "10.0.0.300" is not an IPv4 address`,
    ]);
  });

  it('says clearly when there is nothing to check', async () => {
    await expect(runCheck({ target: path.join(directory, 'missing') }, () => undefined)).rejects.toThrow(
      UsageError,
    );
  });
});

describe('inspect', () => {
  it('shows origin, serial as a date, age and records', async () => {
    const { lines, out } = collect();
    const file = path.join(directory, 'db.vm.example.com');
    const modified = (await fs.stat(file)).mtimeMs;
    expect(await runInspect({ target: file, json: false, nowMs: modified + 42_000 }, out)).toBe(0);
    expect(lines.slice(0, 4)).toEqual([
      `zone vm.example.com.  ${file}`,
      '  serial   1795608000 (2026-11-25T12:00:00.000Z)',
      `  file     modified ${new Date(modified).toISOString()}, 42 s ago`,
      '  records  5 (SOA 1, NS 1, A 3)',
    ]);
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {2}nic1\.web\.default\.vm\.example\.com\. +30 +A +10\.1\.0\.5$/),
    );
  });

  it('prints JSON with every record', async () => {
    const { lines, out } = collect();
    await runInspect({ target: directory, json: true }, out);
    const parsed = JSON.parse(lines.join('\n')) as {
      zones: { origin: string; serial: number; records: { name: string }[]; problems: unknown[] }[];
    };
    expect(parsed.zones.map((zone) => zone.origin)).toEqual(['broken.test.', 'vm.example.com.']);
    expect(parsed.zones[1]?.serial).toBe(serial);
    expect(parsed.zones[1]?.records.map((record) => record.name)).toContain('web.default.vm.example.com.');
    expect(parsed.zones[0]?.problems.length).toBeGreaterThan(0);
  });

  it('answers a name like a DNS server', async () => {
    const found = collect();
    expect(
      await runInspect(
        { target: directory, json: true, name: 'WEB.default.vm.example.com.', type: 'a' },
        found.out,
      ),
    ).toBe(0);
    expect(JSON.parse(found.lines.join('\n'))).toMatchObject({
      status: 'NOERROR',
      records: [{ value: '10.1.0.5', type: 'A' }],
    });
    const missing = collect();
    expect(
      await runInspect({ target: directory, json: false, name: 'db.default.vm.example.com' }, missing.out),
    ).toBe(1);
    expect(missing.lines).toEqual([
      'NXDOMAIN: db.default.vm.example.com. does not exist in zone vm.example.com.',
    ]);
    const nodata = collect();
    expect(
      await runInspect(
        { target: directory, json: false, name: 'default.vm.example.com', type: 'A' },
        nodata.out,
      ),
    ).toBe(1);
    expect(nodata.lines[0]).toMatch(/^NODATA/);
  });
});
