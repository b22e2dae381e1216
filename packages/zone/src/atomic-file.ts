import * as nodeFs from 'node:fs/promises';
import path from 'node:path';

/** The subset of node:fs/promises an atomic write uses, so tests can make it fail at chosen steps. */
export interface AtomicWriteFileSystem {
  open: typeof nodeFs.open;
  rename: typeof nodeFs.rename;
  unlink: typeof nodeFs.unlink;
}

/**
 * Temp files are named `.zonewright-<pid>-<RANDOM>.tmp` with the random part in upper-case hex. They never
 * contain `db.`, so CoreDNS's `auto` plugin (which matches base names with an unanchored, case-sensitive
 * regexp, recursively) never loads a half-written zone: lower-case hex would end in `db` once in 256 names,
 * and `….7db.tmp` matches `db\.(.*)`. They never end in `.conf`, `.conflist` or `.json`, so no CNI runtime or
 * resolver loads a half-written file either.
 */
const TEMP_PREFIX = '.zonewright-';
const TEMP_SUFFIX = '.tmp';

export function isTempFileName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX);
}

/** How often a new temp name is tried when the one before exists already. */
const NAME_ATTEMPTS = 5;
let tempCounter = 0;

/**
 * A temp file name for `directory`: the pid, then 12 upper-case hex digits (a counter of this process and a
 * random part). The name only has to be new: the file is created with O_EXCL (`wx`), so a name that exists
 * fails with EEXIST and the next one is tried. Not from node:crypto, which costs a process that otherwise never
 * loads it ~1.3 MiB of RSS (OpenSSL and its ~15 internal modules): the CRI watcher must stay under 60 MB.
 */
function tempPath(directory: string): string {
  tempCounter = (tempCounter + 1) % 0x1000000;
  const random = Math.floor(Math.random() * 0x1000000);
  const digits = (
    tempCounter.toString(16).padStart(6, '0') + random.toString(16).padStart(6, '0')
  ).toUpperCase();
  return path.join(directory, `${TEMP_PREFIX}${process.pid}-${digits}${TEMP_SUFFIX}`);
}

function exists(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'EEXIST';
}

export interface AtomicWriteOptions {
  readonly fs?: AtomicWriteFileSystem;
  /** Permissions of the new file (default 0644). */
  readonly mode?: number;
}

/**
 * Replaces `target` atomically and durably: a temp file in the same directory, written and fsynced, renamed
 * over the target, then the directory fsynced. Readers see the old file or the new one, never a part; after
 * a crash the temp file is the only leftover ({@link isTempFileName} finds it). Errors are the file system's
 * own (the temp file is removed); callers wrap them in their package's error type.
 */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const fs = options.fs ?? nodeFs;
  const directory = path.dirname(target);
  let temp = tempPath(directory);
  let created = false;
  try {
    let handle: nodeFs.FileHandle | undefined;
    for (let attempt = 1; handle === undefined; attempt += 1) {
      try {
        handle = await fs.open(temp, 'wx', options.mode ?? 0o644);
      } catch (error) {
        if (!exists(error) || attempt >= NAME_ATTEMPTS) throw error;
        temp = tempPath(directory);
      }
    }
    created = true;
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, target);
    created = false;
    const directoryHandle = await fs.open(directory, 'r');
    try {
      await directoryHandle.sync();
    } finally {
      await directoryHandle.close();
    }
  } catch (error) {
    if (created) await fs.unlink(temp).catch(() => undefined);
    throw error;
  }
}
