// Turns results.json into the report's README.md.
import type { ZoneSection } from './zone/report.js';
import { renderZoneSection } from './zone/report.js';

/** results.json: one section per suite; the suites other than zone carry their own markdown. */
export type BenchResults = Record<string, unknown>;

function markdownOf(section: unknown): string | undefined {
  if (typeof section !== 'object' || section === null) return undefined;
  const markdown = (section as { markdown?: unknown }).markdown;
  return typeof markdown === 'string' ? markdown : undefined;
}

export function renderReport(results: BenchResults): string {
  const lines = [
    '# zonewright benchmark report',
    '',
    'Written by `npm run bench`; numbers from the last run on the machine named in each section.',
    '',
  ];
  const zone = results.zone as ZoneSection | undefined;
  if (zone !== undefined) lines.push(...renderZoneSection(zone));
  for (const suite of ['monitor', 'cri', 'freshness', 'reverse']) {
    const markdown = markdownOf(results[suite]);
    if (markdown !== undefined) lines.push(markdown, '');
  }
  return `${lines.join('\n')}\n`;
}
