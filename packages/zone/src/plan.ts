import { assembleRecords, type NameConflict } from './assemble.js';
import { reservedNames } from './config.js';
import { ZoneError } from './errors.js';
import type { AddressRecord, ClaimedRecord, ZoneConfig } from './model.js';
import { recoverSerial, splitRenderedSerial, validateRenderedZone, type RenderedZone } from './render.js';
import { nextSerial, versionSerial } from './serial.js';
import type { SkippedRecord } from './skip.js';
import { diffSorted, renderBody, sortUnique, type RecordDiff } from './zone-text.js';

export type { RecordDiff } from './zone-text.js';

/** What is known about the zone as it is now (the "current" side of the plan). */
export interface PreviousZone {
  /** The serial of the zone on disk or last written; undefined when there is none. */
  readonly serial?: number | undefined;
  /** The records of the zone last written or found unchanged: the `records` of an earlier plan. */
  readonly records?: readonly AddressRecord[] | undefined;
  /** A zone found on disk, split at its serial, while no `records` are known (after a restart). */
  readonly onDisk?: RenderedZone | undefined;
}

export interface PlanOptions {
  /** Time of the plan (ms since the epoch) for the serial rule. */
  readonly nowMs: number;
  /** Use this serial instead of the serial rule (`render --serial`). */
  readonly serial?: number | undefined;
  /**
   * The version of the source state these entries reflect (Kubernetes resourceVersion): the serial is then
   * derived from it (versionSerial), so replicas watching the same source agree. Default: the clock rule.
   */
  readonly sourceVersion?: bigint | undefined;
  /** Parse the final text back line by line and refuse it when it has a problem (default true). */
  readonly validate?: boolean | undefined;
  /** The names sources may not use (default: reservedNames(config); callers that plan often pass it). */
  readonly reserved?: ReadonlySet<string> | undefined;
}

interface PlanOutcome {
  /** The zone's address records, sorted and de-duplicated (pass them back as `previous.records`). */
  readonly records: readonly AddressRecord[];
  readonly conflicts: readonly NameConflict[];
  readonly rejected: readonly SkippedRecord[];
}

/** Nothing but the serial would change, or the zone on disk already has this content. */
export interface UnchangedPlan extends PlanOutcome {
  readonly status: 'unchanged';
}

/** A new zone to write. */
export interface WritePlan extends PlanOutcome {
  readonly status: 'write';
  readonly text: string;
  readonly serial: number;
  /** Against `previous.records`; every record counts as added when they are not known. */
  readonly diff: RecordDiff;
}

/** A zone that must not be written (it failed validation, or the serial ran out); the old file stays. */
export interface RefusedPlan extends PlanOutcome {
  readonly status: 'refused';
  readonly error: ZoneError;
}

export type ZonePlan = UnchangedPlan | WritePlan | RefusedPlan;

function sumLengths(strings: readonly string[]): number {
  let length = 0;
  for (const text of strings) length += text.length;
  return length;
}

/** What a zone file's text tells about the current zone: its serial, and its content when we wrote it. */
export function previousZoneFromText(text: string | undefined, origin: string): PreviousZone {
  if (text === undefined) return {};
  return { serial: recoverSerial(text, origin), onDisk: splitRenderedSerial(text) };
}

/**
 * The pure zone plan (the counterpart of ExternalDNS's `plan.Calculate`): from every object's claimed records
 * and what is known about the current zone, decides the zone's records, conflicts and rejections, and whether
 * a write is needed; if so, renders and validates the text and picks the serial (`max(previous + 1, now)`).
 * No I/O: the reconciler and `render` store what it returns. The same input gives the same output, and
 * planning again from a plan's own result gives "unchanged".
 */
export function planZone(
  config: ZoneConfig,
  entries: Iterable<readonly [string, readonly ClaimedRecord[]]>,
  previous: PreviousZone,
  options: PlanOptions,
): ZonePlan {
  const assembled = assembleRecords(entries, config.origin, options.reserved ?? reservedNames(config));
  const records = sortUnique(assembled.records);
  const outcome = { records, conflicts: assembled.conflicts, rejected: assembled.rejected };
  const fixedSerial = options.serial;
  const keepsSerial = fixedSerial === undefined || fixedSerial === previous.serial;
  const known = previous.records;
  const diff: RecordDiff =
    known === undefined ? { added: records.length, removed: 0 } : diffSorted(known, records);
  if (known !== undefined && diff.added === 0 && diff.removed === 0 && keepsSerial) {
    return { status: 'unchanged', ...outcome };
  }
  const body = renderBody(config, records);
  const disk = previous.onDisk;
  if (
    known === undefined &&
    keepsSerial &&
    disk !== undefined &&
    disk.head === body.head &&
    disk.tail.length === sumLengths(body.chunks) &&
    disk.tail === body.chunks.join('')
  ) {
    return { status: 'unchanged', ...outcome };
  }
  try {
    const serial =
      fixedSerial ??
      (options.sourceVersion === undefined
        ? nextSerial(previous.serial, options.nowMs)
        : versionSerial(previous.serial, options.sourceVersion).serial);
    body.chunks.unshift(body.head, String(serial));
    const text = body.chunks.join('');
    body.chunks.length = 0;
    if (options.validate ?? true) validateRenderedZone(text, config, records.length);
    return { status: 'write', ...outcome, text, serial, diff };
  } catch (error) {
    if (error instanceof ZoneError) return { status: 'refused', ...outcome, error };
    throw error;
  }
}
