import { toAddress } from './addresses.js';
import { InvalidNameError, InvalidZoneError } from './errors.js';
import { DEFAULT_SOA_TIMERS, type SoaTimers, type ZoneConfig } from './model.js';
import { isValidRelativeName, normalizeOrigin } from './names.js';

export const DEFAULT_TTL = 30;
export const MAX_TTL = 2147483647;

export interface ZoneConfigInput {
  readonly origin: string;
  /** Glue addresses of the name server; at least one. */
  readonly nameServerAddresses: readonly string[];
  readonly ttl?: number;
  readonly nameServerName?: string;
  readonly hostmaster?: string;
  readonly soa?: Partial<SoaTimers>;
}

function checkSeconds(what: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min || value > MAX_TTL) {
    throw new InvalidZoneError(
      `${what} must be a whole number of seconds from ${min} to ${MAX_TTL}, got ${value}`,
    );
  }
}

/**
 * Builds a validated, frozen zone configuration. Throws a typed error naming the bad setting; the glue
 * addresses may be loopback (a demo on 127.0.0.1) but must be IP addresses.
 */
export function createZoneConfig(input: ZoneConfigInput): ZoneConfig {
  const origin = normalizeOrigin(input.origin);
  const ttl = input.ttl ?? DEFAULT_TTL;
  checkSeconds('TTL', ttl, 0);
  const nameServerName = input.nameServerName ?? 'ns';
  const hostmaster = input.hostmaster ?? 'hostmaster';
  for (const [what, name] of [
    ['name server name', nameServerName],
    ['hostmaster name', hostmaster],
  ] as const) {
    if (!isValidRelativeName(name)) {
      throw new InvalidNameError(`${what} ${JSON.stringify(name)} is not a valid name relative to ${origin}`);
    }
  }
  if (input.nameServerAddresses.length === 0) {
    throw new InvalidZoneError('the name server needs at least one address for its glue record');
  }
  const addresses = input.nameServerAddresses.map((raw) => {
    const result = toAddress(raw, { allowNonRoutable: true });
    if (!result.ok) throw new InvalidZoneError(`name server address: ${result.detail}`);
    return result.address;
  });
  const soa: SoaTimers = { ...DEFAULT_SOA_TIMERS, ...input.soa };
  checkSeconds('SOA refresh', soa.refresh, 1);
  checkSeconds('SOA retry', soa.retry, 1);
  checkSeconds('SOA expire', soa.expire, 1);
  checkSeconds('SOA minimum', soa.minimum, 0);
  return Object.freeze({
    origin,
    ttl,
    nameServer: Object.freeze({ name: nameServerName, addresses: Object.freeze([...new Set(addresses)]) }),
    hostmaster,
    soa: Object.freeze(soa),
  });
}

/** The usual configuration: `ns.<origin>` with the given glue, `hostmaster.<origin>`, default timers. */
export function defaultZoneConfig(
  origin: string,
  nameServerAddresses: readonly string[],
  ttl?: number,
): ZoneConfig {
  return createZoneConfig(
    ttl === undefined ? { origin, nameServerAddresses } : { origin, nameServerAddresses, ttl },
  );
}

/** The names a source may not use: the apex and the name server's own name. */
export function reservedNames(config: ZoneConfig): ReadonlySet<string> {
  return new Set([config.nameServer.name]);
}
