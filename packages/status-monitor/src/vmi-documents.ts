/**
 * VMI objects from text (pure): JSON or YAML, a single object, a `List` with `items` (what `kubectl get vmi -A -o
 * json` prints) or several YAML documents; and the records of a batch of such objects.
 */
import { parseAllDocuments } from 'yaml';
import { isJsonObject, type ClaimedRecord, type SkippedRecord } from '@zonewright/zone';
import { buildVmiRecords, summarizeVmi, vmiDisplayName, vmiKey } from './vmi-records.js';
import type { VmiRecordOptions } from './vmi-records.js';

/** A file or stream whose text is not valid JSON/YAML or not a VMI, a List or documents of those. */
export class VmiDocumentError extends Error {
  readonly source: string;
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = 'VmiDocumentError';
    this.source = source;
  }
}

function flatten(
  value: unknown,
  source: string,
  where: string,
  out: unknown[],
): VmiDocumentError | undefined {
  if (value === null || value === undefined) return undefined; // an empty YAML document
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const error = flatten(item, source, `${where}[${index}]`, out);
      if (error !== undefined) return error;
    }
    return undefined;
  }
  if (!isJsonObject(value)) return new VmiDocumentError(source, `${where} is not an object`);
  const kind = value['kind'];
  if (
    Array.isArray(value['items']) &&
    (kind === undefined || (typeof kind === 'string' && kind.endsWith('List')))
  ) {
    for (const [index, item] of value['items'].entries()) {
      const error = flatten(item, source, `${where}.items[${index}]`, out);
      if (error !== undefined) return error;
    }
    return undefined;
  }
  out.push(value);
  return undefined;
}

/**
 * The objects in a text. `source` names it in errors (a path, or `-` for stdin). JSON is tried first when the
 * text starts with `{` or `[`; everything else is read as (multi-document) YAML.
 */
export function parseVmiDocuments(text: string, source: string): unknown[] | VmiDocumentError {
  const out: unknown[] = [];
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      const error = flatten(JSON.parse(text) as unknown, source, 'document', out);
      return error ?? out;
    } catch (error) {
      // Not JSON after all (YAML flow style is a superset): fall through to the YAML parser, whose message
      // names the line and column.
      if (!(error instanceof SyntaxError)) throw error;
    }
  }
  const documents = parseAllDocuments(text, { prettyErrors: true });
  if (!Array.isArray(documents)) return out; // an empty stream
  for (const [index, document] of documents.entries()) {
    const first = document.errors[0];
    if (first !== undefined) {
      return new VmiDocumentError(
        source,
        `${documents.length > 1 ? `YAML document ${index + 1}: ` : ''}${first.message.split('\n')[0] ?? ''}`,
      );
    }
    const error = flatten(
      document.toJS() as unknown,
      source,
      documents.length > 1 ? `document ${index + 1}` : 'document',
      out,
    );
    if (error !== undefined) return error;
  }
  return out;
}

export interface VmiBatch {
  /** Records by VMI key (uid or namespace/name, with `keyPrefix`); VMIs without records are left out. */
  readonly entries: Map<string, readonly ClaimedRecord[]>;
  readonly skipped: SkippedRecord[];
  /** Objects that are not VMIs or are malformed. */
  readonly invalid: Error[];
  /** Number of VMI objects read (including excluded ones and ones without records). */
  readonly vmis: number;
}

export interface VmiBatchOptions extends VmiRecordOptions {
  /** VMIs in these namespaces get no records. */
  readonly excludeNamespaces?: readonly string[];
  /** Prepended to every key (the directory source uses the file name, so two files never share a key). */
  readonly keyPrefix?: string;
}

/** Records of many VMI objects, e.g. from {@link parseVmiDocuments}. */
export function collectVmiRecords(objects: readonly unknown[], options: VmiBatchOptions = {}): VmiBatch {
  const entries = new Map<string, readonly ClaimedRecord[]>();
  const skipped: SkippedRecord[] = [];
  const invalid: Error[] = [];
  const excluded = new Set(options.excludeNamespaces ?? []);
  let vmis = 0;
  for (const object of objects) {
    const summary = summarizeVmi(object);
    if (summary instanceof Error) {
      invalid.push(summary);
      continue;
    }
    vmis++;
    if (excluded.has(summary.namespace)) continue;
    const built = buildVmiRecords(summary, options);
    skipped.push(...built.skipped);
    const key = `${options.keyPrefix ?? ''}${vmiKey(summary)}`;
    if (entries.has(key)) {
      invalid.push(
        new Error(`VirtualMachineInstance ${vmiDisplayName(summary)} appears twice; the last one is used`),
      );
    }
    if (built.records.length > 0) entries.set(key, built.records);
    else entries.delete(key);
  }
  return { entries, skipped, invalid, vmis };
}
