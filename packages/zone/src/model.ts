/**
 * The one record model every zonewright package shares.
 *
 * Sources produce {@link AddressRecord}s whose owner names are relative to the zone origin and already
 * validated by {@link toLabel}/{@link joinOwnerName} (see names.ts). SOA, NS and glue are zone-level
 * configuration ({@link ZoneConfig}), never produced by a source.
 */

export type AddressType = 'A' | 'AAAA';
export type RecordType = 'SOA' | 'NS' | AddressType;

/** An A or AAAA record produced by a source. */
export interface AddressRecord {
  /** Owner name relative to the origin: validated labels joined by '.', lowercase, never empty. */
  readonly name: string;
  readonly type: AddressType;
  /** Canonical textual address (IPv4 dotted quad, IPv6 RFC 5952 form). */
  readonly address: string;
}

/**
 * How a record claims its owner name when several source objects produce the same name.
 * - `exclusive`: one object owns the name (a VMI's `<iface>.<vmi>.<ns>`, a pod's `<host>.<ns>.svc`); when
 *   several objects claim it, the object with the lowest key wins and the others are reported as conflicts.
 * - `shared`: every object's addresses are served together (a node's `<host>.svc` for all pods with that
 *   hostname). A shared claim on a name that some object claims exclusively loses and is reported.
 */
export type ClaimMode = 'exclusive' | 'shared';

export interface ClaimedRecord extends AddressRecord {
  readonly claim: ClaimMode;
}

export interface SoaTimers {
  /** Seconds. */
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  /** Negative-caching TTL (RFC 2308). */
  readonly minimum: number;
}

export interface ZoneConfig {
  /** Absolute origin without the trailing dot, lowercase, e.g. `vm.example.com`, `vm`, `cluster.local`. */
  readonly origin: string;
  /** TTL of every record in seconds. */
  readonly ttl: number;
  /** Name server owner name relative to the origin (default `ns`), with its glue addresses. */
  readonly nameServer: { readonly name: string; readonly addresses: readonly string[] };
  /** SOA RNAME relative to the origin (default `hostmaster`). */
  readonly hostmaster: string;
  readonly soa: SoaTimers;
}

export interface Zone {
  readonly config: ZoneConfig;
  readonly serial: number;
  /** Address records; duplicates and conflicts already resolved. */
  readonly records: readonly AddressRecord[];
}

export const DEFAULT_SOA_TIMERS: SoaTimers = Object.freeze({
  refresh: 300,
  retry: 60,
  expire: 86400,
  minimum: 30,
});
