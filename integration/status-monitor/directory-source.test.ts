/**
 * DirectorySource on a real temp folder with chokidar: initial scan, live changes, malformed files.
 */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { silentLogger } from '@zonewright/zone';
import { DirectorySource, DirectorySourceError } from '@zonewright/status-monitor';
import { cp, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingHandle } from './recorder.js';

jest.setTimeout(20_000);

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples', 'vmis');

function vmiYaml(name: string, address: string, namespace = 'lab'): string {
  return `apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  networks:
    - name: default
      pod: {}
    - name: nic1
      multus:
        networkName: br1
status:
  interfaces:
    - name: default
      ipAddresses: [10.244.0.5]
    - name: nic1
      interfaceName: eth1
      infoSource: domain, guest-agent
      ipAddresses: [${address}]
`;
}

describe('DirectorySource', () => {
  let dir: string;
  let handle: RecordingHandle;
  const sources: DirectorySource[] = [];
  const fileErrors: { path: string; message: string }[] = [];

  function makeSource(extra: { watch?: boolean; excludeNamespaces?: string[] } = {}): DirectorySource {
    const source = new DirectorySource({
      handle,
      directory: dir,
      logger: process.env['ZW_DEBUG']
        ? { debug: console.log, info: console.log, warn: console.log, error: console.log }
        : silentLogger,
      observer: { onFileError: ({ path, error }) => fileErrors.push({ path, message: error.message }) },
      ...extra,
    });
    sources.push(source);
    return source;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zw-vmidir-'));
    handle = new RecordingHandle();
    fileErrors.length = 0;
  });
  afterEach(async () => {
    await Promise.all(sources.splice(0).map((source) => source.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the bundled examples, then marks itself synced', async () => {
    await cp(EXAMPLES, dir, { recursive: true });
    const source = makeSource({ watch: false });
    await source.start();
    expect(source.skippedCounts()).toEqual(new Map([['non-routable-address', 2]]));
    expect(handle.calls.map((call) => call.kind)).toEqual(['replaceAll', 'markSynced']);
    expect(handle.lines()).toContain('nic1.web-frontend.default AAAA 2001:db8:10::a');
    expect(handle.lines()).toContain('replication.db-1.tenant-a AAAA 2001:db8:20::21');
    expect(handle.lines()).toContain('runner-lab.ci A 203.0.113.31');
    expect(
      handle.lines().some((line) => line.includes('legacy-erp') || line.includes('runner-pod-only')),
    ).toBe(false);
    expect([...handle.state.keys()].sort()).toEqual([
      'build-runners.json:f7b2d4a6-9e3c-4a1f-8d5b-3c6e0a9f2b22',
      'tenant-a-databases.yaml:5d2c8e71-4a0b-4f6e-8c3d-2b9a7e1f0c11',
      'tenant-a-databases.yaml:8e4f1b93-2c7d-4e5a-b6f8-0d3c9a2e7b12',
      'web-frontend.yaml:0b6f3a52-8c1e-4d2b-9f3e-6a1d5c7e9b01',
    ]);
    expect(fileErrors).toEqual([]);
  });

  it('reports a malformed file with its path and keeps the others', async () => {
    await writeFile(join(dir, 'good.yaml'), vmiYaml('good', '192.0.2.1'));
    await writeFile(join(dir, 'broken.yaml'), 'metadata:\n  name: [unclosed\n');
    await writeFile(join(dir, 'pod.json'), JSON.stringify({ kind: 'Pod', metadata: { name: 'p' } }));
    await writeFile(join(dir, 'notes.txt'), 'not a VMI file');
    await makeSource({ watch: false }).start();
    expect(handle.lines()).toEqual(['good.lab A 192.0.2.1', 'nic1.good.lab A 192.0.2.1']);
    expect(fileErrors.map((error) => error.path).sort()).toEqual([
      join(dir, 'broken.yaml'),
      join(dir, 'pod.json'),
    ]);
    const broken = fileErrors.find((error) => error.path.endsWith('broken.yaml'));
    expect(broken?.message).toContain(join(dir, 'broken.yaml'));
    expect(fileErrors.find((error) => error.path.endsWith('pod.json'))?.message).toContain('kind is "Pod"');
  });

  it('follows file changes: add, modify, a broken save, delete', async () => {
    await writeFile(join(dir, 'a.yaml'), vmiYaml('a', '192.0.2.1'));
    const source = makeSource({ excludeNamespaces: ['hidden'] });
    await source.start();
    expect(handle.synced).toBe(true);
    expect(handle.lines()).toContain('nic1.a.lab A 192.0.2.1');

    // A new file, written to a temp name and renamed into place as editors and kubectl do.
    await writeFile(join(dir, '.b.tmp'), vmiYaml('b', '2001:db8::b'));
    await rename(join(dir, '.b.tmp'), join(dir, 'b.yml'));
    await handle.until(() => handle.lines().includes('nic1.b.lab AAAA 2001:db8::b'), 10_000, 'b.yml added');

    await writeFile(join(dir, 'a.yaml'), vmiYaml('a', '192.0.2.2'));
    await handle.until(() => handle.lines().includes('nic1.a.lab A 192.0.2.2'), 10_000, 'a.yaml changed');
    expect(handle.lines()).not.toContain('nic1.a.lab A 192.0.2.1');
    const upsert = handle.calls.find((call) => call.kind === 'upsert' && call.key.startsWith('a.yaml:'));
    expect(upsert?.kind === 'upsert' ? upsert.eventTimeMs : undefined).toBeGreaterThan(0);

    // Half-written: reported, last good state kept.
    await writeFile(join(dir, 'a.yaml'), 'apiVersion: kubevirt.io/v1\nkind: [\n');
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const check = (): void => {
        if (fileErrors.some((error) => error.path === join(dir, 'a.yaml'))) resolve();
        else if (Date.now() - started > 10_000) reject(new Error('no file error reported'));
        else setTimeout(check, 20);
      };
      check();
    });
    expect(handle.lines()).toContain('nic1.a.lab A 192.0.2.2');

    // Moved into an excluded namespace: the records go.
    await writeFile(join(dir, 'a.yaml'), vmiYaml('a', '192.0.2.2', 'hidden'));
    await handle.until(() => !handle.lines().includes('nic1.a.lab A 192.0.2.2'), 10_000, 'a.yaml excluded');

    await unlink(join(dir, 'b.yml'));
    await handle.until(() => handle.state.size === 0, 10_000, 'b.yml removed');
    expect(handle.count('replaceAll')).toBe(1);
  });

  it('ends on the last of several saves in quick succession (chokidar throttles changes to one per 50 ms)', async () => {
    await writeFile(join(dir, 'q.yaml'), vmiYaml('q', '192.0.2.1'));
    await makeSource().start();
    for (let index = 2; index <= 6; index++) {
      await writeFile(join(dir, 'q.yaml'), vmiYaml('q', `192.0.2.${index}`));
      await new Promise((resolve) => setTimeout(resolve, 8));
    }
    await handle.until(() => handle.lines().includes('nic1.q.lab A 192.0.2.6'), 5000, 'the last save');
    expect(handle.lines()).toEqual(['nic1.q.lab A 192.0.2.6', 'q.lab A 192.0.2.6']);
  });

  it('fails with a clear error when the folder does not exist', async () => {
    const source = new DirectorySource({ handle, directory: join(dir, 'missing'), logger: silentLogger });
    await expect(source.start()).rejects.toThrow(DirectorySourceError);
    await expect(source.start()).rejects.toThrow(/VMI directory .*missing cannot be read/);
  });
});
