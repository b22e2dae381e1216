// testkit's startKnot against a real named as primary (no CoreDNS needed): it starts, transfers and serves,
// fails loudly when it cannot, and leaves no process or directory behind.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  dig,
  findFreeDnsPort,
  isProcessAlive,
  KnotError,
  startKnot,
  startNamed,
  type NamedServer,
} from '@zonewright/testkit';

const origin = 'knot-harness.zonewright.test';

const knotDirectories = (): string[] => readdirSync(tmpdir()).filter((name) => name.startsWith('zw-knot-'));

describe('startKnot: a real knotd as secondary of a real named', () => {
  let dir: string;
  let named: NamedServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zw-peers-knot-'));
    const file = join(dir, `db.${origin}`);
    await writeFile(
      file,
      [
        `$ORIGIN ${origin}.`,
        '$TTL 60',
        `@ IN SOA ns hostmaster 2026120101 300 60 86400 30`,
        '@ IN NS ns',
        'ns IN A 192.0.2.53',
        'web IN A 192.0.2.10',
        '',
      ].join('\n'),
    );
    named = await startNamed({ zones: [{ origin, file }], allowTransfer: ['127.0.0.1'] });
  });

  afterAll(async () => {
    await named?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('transfers the zone, answers it authoritatively, and stop() kills knotd and removes its directory', async () => {
    const knot = await startKnot({ zones: [origin], primary: named });
    try {
      const answer = await dig({ server: knot.address, port: knot.port, name: `web.${origin}`, type: 'A' });
      expect(answer).toMatchObject({ status: 'NOERROR', aa: true });
      expect(answer.answers.map((record) => record.value)).toEqual(['192.0.2.10']);
      expect(await knot.control(['zone-status', origin])).toMatch(/role: slave \| serial: 2026120101/);
      expect(knot.config).toContain(`listen: 127.0.0.1@${knot.port}`);
      expect(existsSync(join(knot.directory, 'run', 'knot.sock'))).toBe(true);
    } finally {
      await knot.stop();
    }
    expect(isProcessAlive(knot.pid)).toBe(false);
    expect(existsSync(knot.directory)).toBe(false);
    await knot.stop(); // twice is fine
    await expect(knot.control(['status'])).rejects.toThrow(KnotError);
  });

  it('rejects with knotd’s own message when its port is taken, and cleans up', async () => {
    const before = knotDirectories();
    await expect(startKnot({ zones: [origin], primary: named, port: named.port })).rejects.toThrow(
      /cannot bind address .*address already in use/,
    );
    expect(knotDirectories()).toEqual(before);
  });

  it('gives up within its time limit when the primary never answers, and cleans up', async () => {
    const before = knotDirectories();
    const silent = { address: '127.0.0.1', port: await findFreeDnsPort() };
    const started = Date.now();
    const failure = startKnot({ zones: [origin], primary: silent, timeoutMs: 2000 });
    await expect(failure).rejects.toThrow(KnotError);
    // The message carries knotd's log: why the zone never came.
    await expect(failure).rejects.toThrow(/timed out after \d+ ms waiting for knotd[\s\S]*refresh/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(knotDirectories()).toEqual(before);
  });
});
