import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ZoneStoreError } from './errors.js';
import { isTempFileName } from './atomic-file.js';
import { FileZoneStore, makeDirectory, type StoreFileSystem } from './store.js';

let directory: string;

beforeEach(async () => {
  directory = await fs.mkdtemp(path.join(os.tmpdir(), 'zw-store-'));
});
afterEach(async () => {
  await fs.rm(directory, { recursive: true, force: true });
});

describe('FileZoneStore', () => {
  it('writes db.<origin> readable by others and reads it back', async () => {
    const store = new FileZoneStore(directory);
    expect(await store.read('vm.example.com')).toBeUndefined();
    await store.write('vm.example.com', 'one\n');
    await store.write('vm.example.com', 'two\n');
    expect(await store.read('vm.example.com')).toBe('two\n');
    expect(await fs.readdir(directory)).toEqual(['db.vm.example.com']);
    const mode = (await fs.stat(path.join(directory, 'db.vm.example.com'))).mode & 0o777;
    expect(mode & 0o044).toBe(0o044);
  });

  it('uses temp names that never contain "db." even for an origin that does', async () => {
    const seen: string[] = [];
    const spy: StoreFileSystem = {
      ...fs,
      open: ((file: string, ...rest: unknown[]) => {
        seen.push(path.basename(file));
        return (fs.open as (...args: unknown[]) => Promise<fs.FileHandle>)(file, ...rest);
      }) as typeof fs.open,
    };
    await new FileZoneStore(directory, spy).write('db.example.com', 'x\n');
    const temps = seen.filter(isTempFileName);
    expect(temps).toHaveLength(1);
    expect(temps[0]).not.toMatch(/db\./);
    expect(await fs.readdir(directory)).toEqual(['db.db.example.com']);
  });

  it('never names a temp file with "db." in it, over a thousand names', async () => {
    // With a lower-case hex random part, one name in 256 ended in `db.tmp` (seen in a test run).
    const seen: string[] = [];
    const refusing: StoreFileSystem = {
      ...fs,
      open: ((file: string) => {
        seen.push(path.basename(file));
        return Promise.reject(new Error('refused by the test'));
      }) as typeof fs.open,
    };
    const store = new FileZoneStore(directory, refusing);
    for (let index = 0; index < 1000; index++) {
      await expect(store.write('vm.example.com', 'x\n')).rejects.toThrow('refused by the test');
    }
    expect(seen.filter(isTempFileName)).toHaveLength(1000);
    expect(seen.filter((name) => name.includes('db.'))).toEqual([]);
  }, 30_000);

  it('tries another temp name when one exists already, and leaves the existing file alone', async () => {
    // Every name this store tries is first created by "someone else", up to `taken` times.
    const tried: string[] = [];
    const squatting = (taken: number): StoreFileSystem => ({
      ...fs,
      open: (async (file: string, ...rest: unknown[]) => {
        const name = path.basename(file);
        if (isTempFileName(name)) {
          tried.push(name);
          if (tried.length <= taken) await fs.writeFile(file, 'someone else\n');
        }
        return (fs.open as (...args: unknown[]) => Promise<fs.FileHandle>)(file, ...rest);
      }) as typeof fs.open,
    });
    await new FileZoneStore(directory, squatting(2)).write('vm', 'mine\n');
    expect(tried).toHaveLength(3);
    expect(new Set(tried).size).toBe(3);
    expect(await fs.readFile(path.join(directory, 'db.vm'), 'utf8')).toBe('mine\n');
    expect(await fs.readFile(path.join(directory, tried[0] as string), 'utf8')).toBe('someone else\n');
    // Five names taken: the write fails (EEXIST), the zone file stays, the others' files stay.
    tried.length = 0;
    await expect(new FileZoneStore(directory, squatting(5)).write('vm', 'lost\n')).rejects.toThrow(/EEXIST/);
    expect(tried).toHaveLength(5);
    expect(await fs.readFile(path.join(directory, 'db.vm'), 'utf8')).toBe('mine\n');
    expect((await fs.readdir(directory)).filter(isTempFileName)).toHaveLength(7);
  });

  it('leaves the old file untouched and no temp file behind when the rename fails', async () => {
    await new FileZoneStore(directory).write('vm', 'good\n');
    const failing: StoreFileSystem = {
      ...fs,
      rename: () => Promise.reject(Object.assign(new Error('EIO: simulated'), { code: 'EIO' })),
    };
    await expect(new FileZoneStore(directory, failing).write('vm', 'new\n')).rejects.toThrow(ZoneStoreError);
    expect(await fs.readFile(path.join(directory, 'db.vm'), 'utf8')).toBe('good\n');
    expect(await fs.readdir(directory)).toEqual(['db.vm']);
  });

  it('removes temp files a crashed writer left behind, and nothing else', async () => {
    await fs.writeFile(path.join(directory, '.zonewright-1-abc.tmp'), 'partial');
    await fs.writeFile(path.join(directory, 'db.keep'), 'zone');
    expect(await new FileZoneStore(directory).prepare()).toEqual(['.zonewright-1-abc.tmp']);
    expect(await fs.readdir(directory)).toEqual(['db.keep']);
  });
});

describe('makeDirectory', () => {
  it('creates missing parents top down and accepts an existing directory', async () => {
    const target = path.join(directory, 'a', 'b', 'c');
    await makeDirectory((dir) => fs.mkdir(dir), target);
    expect((await fs.stat(target)).isDirectory()).toBe(true);
    await makeDirectory((dir) => fs.mkdir(dir), target);
  });

  // Node 20's fs.mkdir(…, { recursive: true }) never settles here and spins at 100 % of a core.
  it('fails at once in /proc, where mkdir answers ENOENT although the parent exists', async () => {
    const calls: string[] = [];
    const mkdir = (dir: string) => {
      calls.push(dir);
      return fs.mkdir(dir);
    };
    await expect(makeDirectory(mkdir, '/proc/zonewright-no/such')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(calls.length).toBeLessThanOrEqual(4);
    await expect(new FileZoneStore('/proc/zonewright-no').prepare()).rejects.toThrow(
      /cannot use zone directory \/proc\/zonewright-no: ENOENT/,
    );
  });

  it('leaves a file in the way to the caller, whose readdir fails with ENOTDIR', async () => {
    const file = path.join(directory, 'file');
    await fs.writeFile(file, 'x');
    await expect(new FileZoneStore(file).prepare()).rejects.toThrow(/cannot use zone directory .*ENOTDIR/);
    expect(await fs.readFile(file, 'utf8')).toBe('x');
  });
});
