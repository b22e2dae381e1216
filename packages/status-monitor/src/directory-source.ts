/**
 * VMIs from a folder of YAML/JSON files, watched live with chokidar (the offline demo and the README's first
 * command). Each file may hold one VMI, a `List`, or several YAML documents.
 */
import { watch } from 'chokidar';
import type { FSWatcher } from 'chokidar';
import { readFile, stat } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import {
  systemClock,
  type ClaimedRecord,
  type Clock,
  type Logger,
  type SkippedRecord,
  type SkipReason,
  type SourceHandle,
} from '@zonewright/zone';
import { collectVmiRecords, parseVmiDocuments } from './vmi-documents.js';

const EXTENSIONS = /\.(ya?ml|json)$/i;
const VERIFY_DELAY_MS = 150;

function signature(info: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
}

/** The folder cannot be used at all (missing, not a directory). */
export class DirectorySourceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DirectorySourceError';
  }
}

export interface DirectorySourceObserver {
  /** A file could not be read or parsed, or holds objects that are not VMIs. Its last good state is kept. */
  onFileError?(info: { path: string; error: Error }): void;
  /** A file was (re)loaded. */
  onFileLoaded?(info: {
    path: string;
    vmis: number;
    records: number;
    skipped: readonly SkippedRecord[];
  }): void;
}

export interface DirectorySourceOptions {
  readonly handle: SourceHandle;
  readonly directory: string;
  readonly logger: Logger;
  readonly observer?: DirectorySourceObserver;
  readonly origin?: string;
  readonly allowNonRoutable?: boolean;
  readonly excludeNamespaces?: readonly string[];
  /** Keep watching after the initial scan (default true). */
  readonly watch?: boolean;
  readonly clock?: Pick<Clock, 'now'>;
  /** Use polling (for file systems without inotify); default false. */
  readonly usePolling?: boolean;
}

interface FileState {
  readonly entries: ReadonlyMap<string, readonly ClaimedRecord[]>;
  readonly skipped: readonly SkippedRecord[];
}

/**
 * Feeds a {@link SourceHandle} from a folder. Keys are `<file relative to the folder>:<uid or namespace/name>`,
 * so the same VMI in two files gives two claims, which the reconciler resolves (lowest key wins).
 * A file that becomes malformed keeps its last good records (an editor may be half-way through a save); a
 * deleted file removes its records.
 */
export class DirectorySource {
  private readonly options: DirectorySourceOptions;
  private readonly directory: string;
  private readonly clock: Pick<Clock, 'now'>;
  private readonly files = new Map<string, FileState>();
  private watcher: FSWatcher | undefined;
  private queue: Promise<void> = Promise.resolve();
  private initialDone = false;
  private stopped = false;
  /** What each file looked like when it was last read, and the timers that check it again. */
  private readonly seen = new Map<string, string>();
  private readonly verifyTimers = new Map<string, NodeJS.Timeout>();

  constructor(options: DirectorySourceOptions) {
    this.options = options;
    this.directory = resolve(options.directory);
    this.clock = options.clock ?? systemClock;
  }

  /** Scans the folder, delivers everything (replaceAll + markSynced) and, unless `watch: false`, keeps watching. */
  async start(): Promise<void> {
    let info;
    try {
      info = await stat(this.directory);
    } catch (error) {
      throw new DirectorySourceError(
        `VMI directory ${this.directory} cannot be read: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    if (!info.isDirectory())
      throw new DirectorySourceError(`VMI directory ${this.directory} is not a directory`);

    const watcher = watch(this.directory, {
      ignoreInitial: false,
      persistent: this.options.watch ?? true,
      usePolling: this.options.usePolling ?? false,
      ignored: (path: string, stats?: { isFile(): boolean }) =>
        path !== this.directory &&
        (/(^|[/\\])\.[^/\\]+$/.test(path) || (stats?.isFile() === true && !EXTENSIONS.test(path))),
    });
    this.watcher = watcher;
    const ready = new Promise<void>((resolveReady, rejectReady) => {
      watcher.once('ready', resolveReady);
      watcher.once('error', rejectReady);
    });
    // chokidar may call `ignored` without stats: check the name again here.
    watcher.on('add', (path: string) => {
      if (EXTENSIONS.test(path)) void this.enqueue(() => this.load(path));
    });
    watcher.on('change', (path: string) => {
      if (EXTENSIONS.test(path)) void this.enqueue(() => this.load(path));
    });
    watcher.on('unlink', (path: string) => {
      void this.enqueue(() => {
        this.unload(path);
        return Promise.resolve();
      });
    });
    watcher.on('error', (error: unknown) => {
      const wrapped = error instanceof Error ? error : new Error(String(error));
      this.options.logger.warn(`watching ${this.directory} failed: ${wrapped.message}`);
      this.options.handle.reportError(wrapped);
    });
    await ready;
    await this.enqueue(() => {
      const all = new Map<string, readonly ClaimedRecord[]>();
      for (const state of this.files.values())
        for (const [key, records] of state.entries) all.set(key, records);
      this.options.handle.replaceAll(all, this.clock.now());
      this.initialDone = true;
      this.options.logger.info(
        `loaded ${this.files.size} VMI files from ${this.directory}: ${all.size} VMIs with records`,
      );
      this.options.handle.markSynced();
      return Promise.resolve();
    });
    if (this.options.watch === false) await this.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.verifyTimers.values()) clearTimeout(timer);
    this.verifyTimers.clear();
    await this.watcher?.close();
    await this.queue;
  }

  /** Records skipped right now (in the files' current state), by reason. */
  skippedCounts(): Map<SkipReason, number> {
    const counts = new Map<SkipReason, number>();
    for (const state of this.files.values()) {
      for (const skip of state.skipped) counts.set(skip.reason, (counts.get(skip.reason) ?? 0) + 1);
    }
    return counts;
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(task).catch((error: unknown) => {
      this.options.logger.error(`directory source: ${String(error)}`);
    });
    return this.queue;
  }

  private name(path: string): string {
    return relative(this.directory, path);
  }

  private async load(path: string): Promise<void> {
    if (this.stopped && this.initialDone) return;
    const name = this.name(path);
    const eventTime = this.clock.now();
    let text: string;
    try {
      this.seen.set(path, signature(await stat(path)));
      text = await readFile(path, 'utf8');
      this.scheduleVerify(path);
    } catch (error) {
      // Removed between the event and the read: the unlink event follows.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.fileError(path, new Error(`cannot read ${path}: ${(error as Error).message}`));
      return;
    }
    const objects = parseVmiDocuments(text, path);
    if (objects instanceof Error) {
      this.fileError(path, objects);
      return;
    }
    const batch = collectVmiRecords(objects, {
      keyPrefix: `${name}:`,
      allowNonRoutable: this.options.allowNonRoutable ?? false,
      origin: this.options.origin ?? '',
      excludeNamespaces: this.options.excludeNamespaces ?? [],
    });
    for (const error of batch.invalid) this.fileError(path, new Error(`${path}: ${error.message}`));
    for (const skip of batch.skipped) {
      const message = `skipped a record of VMI ${skip.object ?? '?'} in ${path}: ${skip.detail}`;
      // Link-local addresses are on nearly every interface: debug, not a warning each.
      if (skip.reason === 'non-routable-address') this.options.logger.debug(message, { reason: skip.reason });
      else this.options.logger.warn(message, { reason: skip.reason });
    }
    const previous = this.files.get(path);
    this.files.set(path, { entries: batch.entries, skipped: batch.skipped });
    let records = 0;
    for (const list of batch.entries.values()) records += list.length;
    this.options.observer?.onFileLoaded?.({ path, vmis: batch.vmis, records, skipped: batch.skipped });
    if (!this.initialDone) return;
    const handle = this.options.handle;
    for (const key of previous?.entries.keys() ?? [])
      if (!batch.entries.has(key)) handle.remove(key, eventTime);
    for (const [key, list] of batch.entries) {
      if (previous?.entries.get(key) !== undefined && sameRecords(previous.entries.get(key) ?? [], list))
        continue;
      handle.upsert(key, list, eventTime);
    }
    this.options.logger.debug(`reloaded ${path}`, { vmis: batch.vmis, records });
  }

  /**
   * chokidar drops a `change` that follows another within 50 ms (its throttle), so a quick second save could be
   * missed: look at the file again a little later and reload it when it differs from what was read.
   */
  private scheduleVerify(path: string): void {
    if (this.stopped || this.options.watch === false) return;
    const existing = this.verifyTimers.get(path);
    if (existing !== undefined) clearTimeout(existing);
    const timer = setTimeout(() => {
      this.verifyTimers.delete(path);
      stat(path).then(
        (info) => {
          if (!this.stopped && this.seen.get(path) !== signature(info)) {
            this.options.logger.debug(`${path} changed again after it was read, reloading`);
            void this.enqueue(() => this.load(path));
          }
        },
        () => undefined, // gone: chokidar reports the unlink
      );
    }, VERIFY_DELAY_MS);
    timer.unref();
    this.verifyTimers.set(path, timer);
  }

  private unload(path: string): void {
    this.seen.delete(path);
    const previous = this.files.get(path);
    this.files.delete(path);
    if (previous === undefined || !this.initialDone) return;
    const eventTime = this.clock.now();
    for (const key of previous.entries.keys()) this.options.handle.remove(key, eventTime);
    this.options.logger.info(`${path} removed: ${previous.entries.size} VMIs dropped`);
  }

  private fileError(path: string, error: Error): void {
    this.options.logger.warn(error.message.startsWith(path) ? error.message : `${path}: ${error.message}`, {
      path,
    });
    this.options.observer?.onFileError?.({ path, error });
  }
}

function sameRecords(a: readonly ClaimedRecord[], b: readonly ClaimedRecord[]): boolean {
  return (
    a.length === b.length &&
    a.every((record, index) => {
      const other = b[index];
      return (
        other !== undefined &&
        record.name === other.name &&
        record.type === other.type &&
        record.address === other.address &&
        record.claim === other.claim
      );
    })
  );
}
