import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectVmiRecords, parseVmiDocuments, VmiDocumentError } from './vmi-documents.js';

const EXAMPLES = join(import.meta.dirname, '..', '..', '..', 'examples', 'vmis');

function vmi(name: string, namespace = 'default', address = '10.0.0.1'): Record<string, unknown> {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name, namespace },
    spec: { networks: [{ name: 'nic1', multus: { networkName: 'br1' } }] },
    status: { interfaces: [{ name: 'nic1', ipAddresses: [address] }] },
  };
}

function names(objects: unknown[] | Error): string[] {
  if (objects instanceof Error) throw objects;
  return objects.map((object) => (object as { metadata: { name: string } }).metadata.name);
}

describe('parseVmiDocuments', () => {
  it('reads a single JSON object, a JSON List and a JSON array', () => {
    expect(names(parseVmiDocuments(JSON.stringify(vmi('a')), 'a.json'))).toEqual(['a']);
    const list = { apiVersion: 'v1', kind: 'List', items: [vmi('a'), vmi('b')], metadata: {} };
    expect(names(parseVmiDocuments(JSON.stringify(list), 'l.json'))).toEqual(['a', 'b']);
    const typedList = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceList', items: [vmi('c')] };
    expect(names(parseVmiDocuments(JSON.stringify(typedList), '-'))).toEqual(['c']);
    expect(names(parseVmiDocuments(JSON.stringify([vmi('d'), vmi('e')]), '-'))).toEqual(['d', 'e']);
  });

  it('reads multi-document YAML with empty documents and comments', () => {
    const text = `# two VMIs\n---\napiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata:\n  name: y1\n---\n---\nkind: VirtualMachineInstance\nmetadata: {name: y2}\n`;
    expect(names(parseVmiDocuments(text, 'm.yaml'))).toEqual(['y1', 'y2']);
    expect(parseVmiDocuments('', 'empty.yaml')).toEqual([]);
  });

  it('reports malformed YAML with the source and the line', () => {
    const result = parseVmiDocuments('metadata:\n  name: a\n  bad: [1, 2\nkind: x\n', '/tmp/x/broken.yaml');
    expect(result).toBeInstanceOf(VmiDocumentError);
    expect((result as Error).message).toMatch(/^\/tmp\/x\/broken\.yaml: .*line \d+/);
  });

  it('names the document of a multi-document error', () => {
    const result = parseVmiDocuments('metadata: {name: a}\n---\n: : :\n  - [\n', 'two.yaml');
    expect((result as Error).message).toMatch(/^two\.yaml: YAML document 2: /);
  });

  it('rejects documents that are not objects', () => {
    expect((parseVmiDocuments('42', 'n.json') as Error).message).toBe('n.json: document is not an object');
    expect((parseVmiDocuments('- a\n- b\n', 's.yaml') as Error).message).toBe(
      's.yaml: document[0] is not an object',
    );
  });
});

describe('collectVmiRecords', () => {
  it('builds records keyed by uid or namespace/name, counting invalid objects', () => {
    const objects = [
      vmi('a', 'x', '10.0.0.1'),
      { kind: 'Pod', metadata: { name: 'p' } },
      vmi('b', 'y', '10.0.0.2'),
    ];
    const batch = collectVmiRecords(objects, { keyPrefix: 'f.yaml:' });
    expect([...batch.entries.keys()]).toEqual(['f.yaml:x/a', 'f.yaml:y/b']);
    expect(batch.invalid.map((error) => error.message)).toEqual([
      'kind is "Pod", expected "VirtualMachineInstance"',
    ]);
    expect(batch.vmis).toBe(2);
  });

  it('excludes namespaces and reports a VMI listed twice', () => {
    const batch = collectVmiRecords([vmi('a', 'x'), vmi('a', 'x', '10.0.0.9'), vmi('b', 'skip-me')], {
      excludeNamespaces: ['skip-me'],
    });
    expect([...batch.entries.keys()]).toEqual(['x/a']);
    expect(batch.entries.get('x/a')?.[0]?.address).toBe('10.0.0.9');
    expect(batch.invalid.map((error) => error.message)).toEqual([
      'VirtualMachineInstance x/a appears twice; the last one is used',
    ]);
  });

  it('gives the documented records for the bundled examples', () => {
    const lines: string[] = [];
    const skipped: string[] = [];
    for (const file of readdirSync(EXAMPLES).filter((name) => /\.(ya?ml|json)$/.test(name))) {
      const objects = parseVmiDocuments(readFileSync(join(EXAMPLES, file), 'utf8'), file);
      if (objects instanceof Error) throw objects;
      const batch = collectVmiRecords(objects);
      expect(batch.invalid).toEqual([]);
      for (const records of batch.entries.values())
        for (const r of records) lines.push(`${r.name} ${r.type} ${r.address}`);
      skipped.push(...batch.skipped.map((skip) => `${skip.object ?? ''} ${skip.reason}`));
    }
    expect(lines.sort()).toEqual([
      'data.db-0.tenant-a A 198.51.100.20',
      'data.db-1.tenant-a A 198.51.100.21',
      'db-0.tenant-a A 198.51.100.20',
      'db-1.tenant-a A 198.51.100.21',
      'lab.runner-lab.ci A 203.0.113.31',
      'nic1.web-frontend.default A 192.0.2.10',
      'nic1.web-frontend.default AAAA 2001:db8:10::a',
      'replication.db-0.tenant-a AAAA 2001:db8:20::20',
      'replication.db-1.tenant-a AAAA 2001:db8:20::21',
      'runner-lab.ci A 203.0.113.31',
      'web-frontend.default A 192.0.2.10',
      'web-frontend.default AAAA 2001:db8:10::a',
    ]);
    expect(skipped.sort()).toEqual([
      'default/web-frontend non-routable-address',
      'tenant-a/db-0 non-routable-address',
    ]);
  });
});
