import * as nodeFs from 'node:fs/promises';
import path from 'node:path';
import { isTempFileName, writeFileAtomic } from './atomic-file.js';
import { ZoneStoreError } from './errors.js';
import { zoneFileName } from './names.js';

/** Where zones live. The reconciler is the only writer. */
export interface ZoneStore {
  /** The current text of the zone, or undefined when there is none. */
  read(origin: string): Promise<string | undefined>;
  /** Replaces the zone atomically: readers see the old file or the new one, never a part. */
  write(origin: string, text: string): Promise<void>;
}

/** The subset of node:fs/promises the store uses, so tests can make it fail at chosen steps. */
export interface StoreFileSystem {
  readFile: typeof nodeFs.readFile;
  open: typeof nodeFs.open;
  rename: typeof nodeFs.rename;
  unlink: typeof nodeFs.unlink;
  readdir: typeof nodeFs.readdir;
  mkdir: typeof nodeFs.mkdir;
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/**
 * `mkdir -p` that always ends: creates the missing directories from the top, one `mkdir` each, and fails when
 * one cannot be made. (Node 20's own `mkdir(path, { recursive: true })` never returns, at 100 % of a core,
 * when mkdir answers ENOENT although the parent exists, as in /proc or /sys.) An existing path is left to
 * the caller to check (a file there fails at the caller's next readdir or open, with ENOTDIR).
 */
export async function makeDirectory(
  mkdir: (directory: string) => Promise<unknown>,
  directory: string,
): Promise<void> {
  const missing: string[] = [];
  for (let current = path.resolve(directory); ; current = path.dirname(current)) {
    try {
      await mkdir(current);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') break;
      const parent = path.dirname(current);
      if (code !== 'ENOENT' || parent === current) throw error;
      missing.push(current);
      continue;
    }
    break;
  }
  // Each parent that was missing now exists (or mkdir said EEXIST); make the rest top down, once each.
  for (const current of missing.reverse()) {
    try {
      await mkdir(current);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** Zone files `db.<origin>` in one directory, written with temp file + fsync + rename + directory fsync. */
export class FileZoneStore implements ZoneStore {
  readonly directory: string;
  private readonly fs: StoreFileSystem;

  constructor(directory: string, fs: StoreFileSystem = nodeFs) {
    this.directory = directory;
    this.fs = fs;
  }

  pathOf(origin: string): string {
    return path.join(this.directory, zoneFileName(origin));
  }

  async read(origin: string): Promise<string | undefined> {
    try {
      return await this.fs.readFile(this.pathOf(origin), 'utf8');
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new ZoneStoreError(`cannot read ${this.pathOf(origin)}: ${(error as Error).message}`, {
        cause: error,
        transient: true,
      });
    }
  }

  /** Creates the directory if needed and removes temp files a crashed writer left behind. */
  async prepare(): Promise<string[]> {
    try {
      await makeDirectory((directory) => this.fs.mkdir(directory), this.directory);
      const stale = (await this.fs.readdir(this.directory)).filter(isTempFileName);
      for (const name of stale) await this.fs.unlink(path.join(this.directory, name)).catch(() => undefined);
      return stale;
    } catch (error) {
      throw new ZoneStoreError(`cannot use zone directory ${this.directory}: ${(error as Error).message}`, {
        cause: error,
        transient: true,
      });
    }
  }

  async write(origin: string, text: string): Promise<void> {
    const target = this.pathOf(origin);
    try {
      await writeFileAtomic(target, text, { fs: this.fs });
    } catch (error) {
      throw new ZoneStoreError(`cannot write ${target}: ${(error as Error).message}`, {
        cause: error,
        transient: true,
      });
    }
  }
}
