import { findZoneFiles, loadZone } from '../zone-files.js';
import { ProblemsFoundError, UsageError } from '../errors.js';

export interface CheckOptions {
  readonly target: string;
  readonly origin?: string;
  readonly quiet?: boolean;
}

/**
 * `zonewright check <dir|file>`: parses every zone and prints each problem as `file:line: message`.
 * Throws {@link ProblemsFoundError} (exit 1) when any zone has an error; warnings alone pass.
 */
export async function runCheck(options: CheckOptions, out: (line: string) => void): Promise<void> {
  const files = await findZoneFiles(options.target);
  if (files.length === 0) throw new UsageError(`${options.target}: no zone files (db.<origin>) found`);
  let failed = 0;
  for (const file of files) {
    const zone = await loadZone(file, options.origin);
    const errors = zone.problems.filter((problem) => problem.severity === 'error');
    for (const problem of zone.problems) {
      out(`${file}:${problem.line}: ${problem.severity === 'warning' ? 'warning: ' : ''}${problem.message}`);
    }
    if (errors.length > 0) failed += 1;
    if (!options.quiet) {
      const soa = zone.parsed.records.find((record) => record.type === 'SOA');
      out(
        errors.length > 0
          ? `${file}: ${errors.length} problem${errors.length === 1 ? '' : 's'}`
          : `${file}: ok, zone ${zone.origin ?? '?'} serial ${soa?.rdata[2] ?? '?'}, ${zone.parsed.records.length} records`,
      );
    }
  }
  if (failed > 0)
    throw new ProblemsFoundError(
      `${failed} of ${files.length} zone file${files.length === 1 ? ' has' : 's have'} problems`,
    );
}
