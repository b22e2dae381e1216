import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** One version of the zone file as a reader saw it. */
export interface ZoneVersion {
  readonly text: string;
  /** When it was seen (performance.now()). */
  readonly at: number;
  /** Its mtime on the performance.now() scale: the last write before fsync and rename, a lower bound of the rename. */
  readonly writtenAt: number;
}

export type ZoneVersionListener = (version: ZoneVersion) => void;

/** The zone did not reach the awaited state in time. */
export class ZoneWaitTimeoutError extends Error {
  override readonly name = 'ZoneWaitTimeoutError';
}

/**
 * Watches one zone file from outside, as CoreDNS would see it: `fs.watch` on its directory, each new version
 * (inode, mtime, size) read once; a 50 ms poll is the safety net in case an inotify event is lost, counted so a
 * report can say whether it mattered.
 */
export class ZoneFileObserver {
  readonly path: string;
  /** Versions read so far, and how many of them the poll saw first. */
  versions = 0;
  seenByPoll = 0;
  private readonly listeners = new Set<ZoneVersionListener>();
  private readonly watcher: FSWatcher;
  private readonly timer: NodeJS.Timeout;
  private lastVersion: string | undefined;
  private last: ZoneVersion | undefined;
  private reading = false;
  private pending: { at: number; via: 'inotify' | 'poll' } | undefined;

  constructor(
    directory: string,
    private readonly fileName: string,
    private readonly onError: (error: unknown) => void,
  ) {
    this.path = join(directory, fileName);
    this.watcher = watch(directory, (_event, name) => {
      if (name === fileName) this.check(performance.now(), 'inotify');
    });
    this.timer = setInterval(() => {
      this.check(performance.now(), 'poll');
    }, 50);
  }

  /** The newest version read, if any. */
  current(): ZoneVersion | undefined {
    return this.last;
  }

  /** Every new version from now on. Returns a function that removes the listener. */
  onVersion(listener: ZoneVersionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The first new version for which `predicate(text)` holds (not the current one). */
  waitFor(predicate: (text: string) => boolean, timeoutMs: number, what: string): Promise<ZoneVersion> {
    return new Promise((resolve, reject) => {
      const remove = this.onVersion((version) => {
        if (!predicate(version.text)) return;
        clearTimeout(timer);
        remove();
        resolve(version);
      });
      const timer = setTimeout(() => {
        remove();
        reject(
          new ZoneWaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${this.fileName} to ${what}`),
        );
      }, timeoutMs);
    });
  }

  /** Like waitFor, but the version already read counts too (resolved at once if it holds). */
  waitForState(predicate: (text: string) => boolean, timeoutMs: number, what: string): Promise<ZoneVersion> {
    const current = this.last;
    if (current !== undefined && predicate(current.text)) return Promise.resolve(current);
    return this.waitFor(predicate, timeoutMs, what);
  }

  close(): void {
    this.watcher.close();
    clearInterval(this.timer);
  }

  private check(at: number, via: 'inotify' | 'poll'): void {
    if (this.reading) {
      if (this.pending === undefined || at < this.pending.at) this.pending = { at, via };
      return;
    }
    this.reading = true;
    this.read(at, via)
      .catch(this.onError)
      .finally(() => {
        this.reading = false;
        const next = this.pending;
        this.pending = undefined;
        if (next !== undefined) this.check(next.at, next.via);
      });
  }

  private async read(at: number, via: 'inotify' | 'poll'): Promise<void> {
    let handle;
    try {
      handle = await open(this.path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    try {
      const stat = await handle.stat({ bigint: true });
      const version = `${stat.ino}:${stat.mtimeNs}:${stat.size}`;
      if (version === this.lastVersion) return;
      const text = await handle.readFile('utf8');
      this.lastVersion = version;
      this.versions++;
      if (via === 'poll') this.seenByPoll++;
      const writtenAt = Number(stat.mtimeNs / 1000n) / 1000 - performance.timeOrigin;
      this.last = { text, at, writtenAt };
      for (const listener of [...this.listeners]) listener(this.last);
    } finally {
      await handle.close();
    }
  }
}
