import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { findRepoRoot } from '@zonewright/testkit';
import {
  DOCUMENTED_TABLES,
  markdownOptionTable,
  optionBlocks,
  tableCells,
  withGeneratedTables,
} from './option-docs.js';

const root = findRepoRoot();
const FILES = ['README.md', 'packages/node-setup/README.md', 'packages/cri-watcher/README.md'];

describe('the README option tables', () => {
  const blocks = FILES.flatMap((file) =>
    optionBlocks(readFileSync(path.join(root, file), 'utf8')).map((block) => ({ file, ...block })),
  );

  it('document every table exactly once', () => {
    expect(blocks.map((block) => block.name).sort()).toEqual(Object.keys(DOCUMENTED_TABLES).sort());
  });

  it.each(FILES)('%s agrees with the option table (npm run docs:options rewrites it)', (file) => {
    for (const block of blocks.filter((candidate) => candidate.file === file)) {
      expect({ table: block.name, cells: tableCells(block.body) }).toEqual({
        table: block.name,
        cells: tableCells(markdownOptionTable(block.name)),
      });
    }
  });

  it('notices a README row that differs', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const edited = readme.replace('| `--ttl` ', '| `--time-to-live` ');
    expect(edited).not.toBe(readme);
    const monitor = optionBlocks(edited).find((block) => block.name === 'monitor');
    expect(tableCells(monitor?.body ?? '')).not.toEqual(tableCells(markdownOptionTable('monitor')));
    expect(tableCells(optionBlocks(withGeneratedTables(edited))[1]?.body ?? '')).toEqual(
      tableCells(markdownOptionTable('monitor')),
    );
  });
});
