import { describe, expect, it } from '@jest/globals';
import type { Logger } from './logger.js';
import { behindSeconds, StalenessLog } from './staleness.js';

function recorder(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const log =
    (level: string) =>
    (message: string): void => {
      lines.push(`${level} ${message}`);
    };
  return {
    lines,
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
  };
}

const T = Date.UTC(2026, 11, 1, 12, 0, 0);
const source = (failingSinceMs: number | undefined, lastError?: string) => ({
  name: 'kubevirt',
  synced: true,
  objects: 3,
  lastError,
  failingSinceMs,
});

describe('behindSeconds', () => {
  it('is 0 when current and the seconds since the zone fell behind otherwise', () => {
    expect(behindSeconds(undefined, T)).toBe(0);
    expect(behindSeconds(T - 2500, T)).toBe(2.5);
    expect(behindSeconds(T + 10, T)).toBe(0);
  });
});

describe('StalenessLog', () => {
  it('says nothing about normal coalescing delays', () => {
    const { logger, lines } = recorder();
    const log = new StalenessLog({ origin: 'vm.example.com', logger });
    log.update(T, {
      behindSinceMs: T - 300,
      sources: [source(undefined)],
      lastWriteError: undefined,
      lastWriteMs: undefined,
    });
    log.update(T + 1000, {
      behindSinceMs: undefined,
      sources: [source(undefined)],
      lastWriteError: undefined,
      lastWriteMs: undefined,
    });
    expect(lines).toEqual([]);
  });

  it('logs once when the zone has been behind for the threshold, and when it is current again, with how long', () => {
    const { logger, lines } = recorder();
    const log = new StalenessLog({ origin: 'vm.example.com', logger, logAfterMs: 5000 });
    const failing = {
      behindSinceMs: T,
      sources: [source(T, 'connect ECONNREFUSED')],
      lastWriteError: undefined,
      lastWriteMs: undefined,
    };
    for (let second = 0; second <= 12; second++) log.update(T + second * 1000, failing);
    // Recovered: the relist is pending (behind since a later event would be reported, the period still counts).
    log.update(T + 13_000, {
      behindSinceMs: T + 12_900,
      sources: [source(undefined)],
      lastWriteError: undefined,
      lastWriteMs: undefined,
    });
    // Caught up by the write at T + 13.2 s; this check comes later and counts up to that write.
    log.update(T + 14_000, {
      behindSinceMs: undefined,
      sources: [source(undefined)],
      lastWriteError: undefined,
      lastWriteMs: T + 13_200,
    });
    expect(lines).toEqual([
      'warn zone vm.example.com is behind its sources since 2026-12-01T12:00:00.000Z (5.0 s): source kubevirt failing: connect ECONNREFUSED',
      'info zone vm.example.com is current again; it was behind its sources for 13.2 s',
    ]);
  });

  it('names failing zone writes when no source fails', () => {
    const { logger, lines } = recorder();
    const log = new StalenessLog({ origin: 'cluster.local', logger, logAfterMs: 1000 });
    log.update(T + 2000, {
      behindSinceMs: T,
      sources: [source(undefined)],
      lastWriteError: 'EROFS',
      lastWriteMs: undefined,
    });
    expect(lines).toEqual([
      'warn zone cluster.local is behind its sources since 2026-12-01T12:00:00.000Z (2.0 s): zone writes failing: EROFS',
    ]);
  });
});
