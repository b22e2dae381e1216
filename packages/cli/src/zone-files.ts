import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  checkZone,
  isTempFileName,
  originFromFileName,
  parseZone,
  type ParsedZone,
  type ZoneProblem,
} from '@zonewright/zone';
import { UsageError } from './errors.js';

export interface LoadedZone {
  readonly file: string;
  readonly origin: string | undefined;
  readonly modifiedMs: number;
  readonly parsed: ParsedZone;
  readonly problems: readonly ZoneProblem[];
}

/**
 * The zone files a path stands for: the file itself, or — like CoreDNS's `auto` plugin with `^db\.(.*)$` —
 * every `db.<origin>` file below a directory (temp files of a writer are ignored).
 */
export async function findZoneFiles(target: string): Promise<string[]> {
  let info;
  try {
    info = await stat(target);
  } catch (error) {
    throw new UsageError(
      `${target}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`,
    );
  }
  if (info.isFile()) return [target];
  const found: string[] = [];
  const walk = async (directory: string, depth: number): Promise<void> => {
    const entries = await readdir(directory, { withFileTypes: true });
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory() && depth < 8 && !entry.name.startsWith('..')) await walk(full, depth + 1);
      else if (
        entry.isFile() &&
        originFromFileName(entry.name) !== undefined &&
        !isTempFileName(entry.name)
      ) {
        found.push(full);
      }
    }
  };
  await walk(target, 0);
  return found;
}

/** Reads and parses one zone file; the origin comes from `--origin`, then $ORIGIN, then the file name. */
export async function loadZone(file: string, origin?: string): Promise<LoadedZone> {
  const [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
  const implied = origin ?? originFromFileName(path.basename(file));
  const parsed = parseZone(text, implied === undefined ? {} : { origin: implied });
  return { file, origin: parsed.origin, modifiedMs: info.mtimeMs, parsed, problems: checkZone(parsed) };
}
