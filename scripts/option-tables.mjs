#!/usr/bin/env node
// Rewrites the `<!-- options: NAME -->` tables in the READMEs from the CLI's option table (after `npm run build`),
// then lets Prettier pad them. `option-docs.test.ts` fails while a README disagrees with the table.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { withGeneratedTables } from '../packages/cli/dist/config/option-docs.js';

const files = ['README.md', 'packages/node-setup/README.md', 'packages/cri-watcher/README.md'];
const changed = [];
for (const file of files) {
  const before = readFileSync(file, 'utf8');
  const after = withGeneratedTables(before);
  if (after !== before) {
    writeFileSync(file, after);
    changed.push(file);
  }
}
if (changed.length > 0) execFileSync('npx', ['prettier', '--write', ...changed], { stdio: 'inherit' });
console.log(changed.length === 0 ? 'option tables up to date' : `updated ${changed.join(', ')}`);
