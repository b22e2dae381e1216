// The reverse suite's VMIs: the monitor suite's KubeVirt objects with a dual-stack nic1 (one IPv4 address in
// 10.10.0.0/16 and one IPv6 address in fd00:10::/48), turned into records by the status monitor's own
// builder, so the forward zone has exactly what `zonewright monitor` would put in it (A and AAAA for
// `nic1.<vmi>.<ns>` and `<vmi>.<ns>`: four records and two PTRs per VMI).
import { buildVmiRecords, summarizeVmi, vmiKey } from '@zonewright/status-monitor';
import type { ClaimedRecord } from '@zonewright/zone';
import { vmiObject } from '../monitor/vmi-objects.js';

/** The ranges that cover every address the entries below use. */
export const REVERSE_RANGES = '10.10.0.0/16,fd00:10::/48';

/** VMI i's nic1 addresses at a generation; every generation gives other addresses in the same ranges. */
export function dualStackAddresses(index: number, generation: number): [string, string] {
  const slot = index + generation * 20_011;
  const v4 = `10.10.${Math.floor(slot / 250) % 250}.${(slot % 250) + 1}`;
  const v6 = `fd00:10::${(generation & 0xffff).toString(16)}:${(index & 0xffff).toString(16)}`;
  return [v4, v6];
}

export interface VmiEntry {
  readonly key: string;
  readonly records: readonly ClaimedRecord[];
}

/** The key and records of VMI i at a generation, through summarizeVmi and buildVmiRecords. */
export function vmiEntry(index: number, generation: number): VmiEntry {
  const [v4, v6] = dualStackAddresses(index, generation);
  const object = vmiObject(index, v4) as {
    status: { interfaces: { name: string; ipAddress: string; ipAddresses: string[] }[] };
  };
  const nic1 = object.status.interfaces.find((iface) => iface.name === 'nic1');
  if (nic1 === undefined) throw new Error('the monitor suite’s VMI object has no nic1');
  nic1.ipAddresses = [v4, v6];
  const summary = summarizeVmi(object);
  if (summary instanceof Error) throw summary;
  const { records, skipped } = buildVmiRecords(summary, { origin: 'vm.example.com' });
  if (skipped.length > 0 || records.length !== 4)
    throw new Error(`VMI ${index}: expected 4 records, got ${records.length} (${skipped.length} skipped)`);
  return { key: vmiKey(summary), records };
}
