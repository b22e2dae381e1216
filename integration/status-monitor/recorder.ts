import type { ClaimedRecord, SourceHandle } from '@zonewright/zone';

export type RecordedCall =
  | { kind: 'upsert'; key: string; records: readonly ClaimedRecord[]; eventTimeMs: number | undefined }
  | { kind: 'remove'; key: string; eventTimeMs: number | undefined }
  | { kind: 'replaceAll'; keys: string[]; eventTimeMs: number | undefined }
  | { kind: 'markSynced' }
  | { kind: 'reportError'; error: Error }
  | { kind: 'reportHealthy' };

/** A SourceHandle that applies calls to a map (as the reconciler does) and keeps a log of them. */
export class RecordingHandle implements SourceHandle {
  readonly state = new Map<string, readonly ClaimedRecord[]>();
  readonly calls: RecordedCall[] = [];
  synced = false;
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  upsert(key: string, records: readonly ClaimedRecord[], eventTimeMs?: number): void {
    this.state.set(key, records);
    this.calls.push({ kind: 'upsert', key, records, eventTimeMs });
    this.wake();
  }
  remove(key: string, eventTimeMs?: number): void {
    this.state.delete(key);
    this.calls.push({ kind: 'remove', key, eventTimeMs });
    this.wake();
  }
  replaceAll(entries: ReadonlyMap<string, readonly ClaimedRecord[]>, eventTimeMs?: number): void {
    this.state.clear();
    for (const [key, records] of entries) this.state.set(key, records);
    this.calls.push({ kind: 'replaceAll', keys: [...entries.keys()].sort(), eventTimeMs });
    this.wake();
  }
  markSynced(): void {
    this.synced = true;
    this.calls.push({ kind: 'markSynced' });
    this.wake();
  }
  reportError(error: Error): void {
    this.calls.push({ kind: 'reportError', error });
    this.wake();
  }
  reportHealthy(): void {
    this.calls.push({ kind: 'reportHealthy' });
    this.wake();
  }

  count(kind: RecordedCall['kind']): number {
    return this.calls.filter((call) => call.kind === kind).length;
  }

  /** Every record as `name TYPE address`, sorted. */
  lines(): string[] {
    const out: string[] = [];
    for (const records of this.state.values())
      for (const r of records) out.push(`${r.name} ${r.type} ${r.address}`);
    return out.sort();
  }

  /** Resolves when `check` holds (checked after every call); rejects after `timeoutMs`. */
  until(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.resolve !== done);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; calls: ${this.calls.map((c) => c.kind).join(',')}`,
          ),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ check, resolve: done });
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) {
      if (waiter.check()) {
        this.waiters = this.waiters.filter((other) => other !== waiter);
        waiter.resolve();
      }
    }
  }
}
