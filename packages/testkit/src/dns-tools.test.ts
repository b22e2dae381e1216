import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRepoRoot, ZoneCheckerError, ZoneInvalidError } from './dns-tools.js';

describe('findRepoRoot', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zw-root-'));
    await mkdir(join(dir, 'repo', 'packages', 'x', 'src'), { recursive: true });
    await writeFile(join(dir, 'repo', 'lerna.json'), '{}');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('walks up to the directory holding lerna.json', () => {
    expect(findRepoRoot(join(dir, 'repo', 'packages', 'x', 'src'))).toBe(join(dir, 'repo'));
    expect(findRepoRoot(join(dir, 'repo'))).toBe(join(dir, 'repo'));
  });

  it('says where it looked when there is no lerna.json', () => {
    expect(() => findRepoRoot(dir)).toThrow(ZoneCheckerError);
    expect(() => findRepoRoot(dir)).toThrow(`no lerna.json found at or above ${dir}`);
  });

  it('finds this repository from the module itself', () => {
    const root = findRepoRoot();
    expect(existsSync(join(root, 'packages', 'testkit', 'package.json'))).toBe(true);
  });
});

describe('ZoneInvalidError', () => {
  it('carries both verdicts in its message', () => {
    const error = new ZoneInvalidError(
      'example.test',
      '/z/db.example.test',
      { ok: true, output: 'zone example.test/IN: loaded serial 7\nOK\n', serial: 7 },
      {
        ok: false,
        file: '/z/db.example.test',
        origin: 'example.test.',
        records: 2,
        soaSerial: 7,
        owners: ['example.test.'],
        errors: [{ line: 4, column: 9, message: 'bad A A: "1.2.3"' }],
      },
    );
    expect(error.message).toContain('named-checkzone (accepted)');
    expect(error.message).toContain('loaded serial 7');
    expect(error.message).toContain('miekg/dns zonecheck (REJECTED)');
    expect(error.message).toContain('/z/db.example.test:4: bad A A: "1.2.3"');
  });
});
