/** Base class of every error the zone package throws on purpose. */
export class ZoneError extends Error {
  /** True when retrying the same operation later may succeed (disk full, I/O hiccup). */
  readonly transient: boolean;

  constructor(message: string, options?: { cause?: unknown; transient?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.transient = options?.transient ?? false;
  }
}

/** A zone origin or owner name that cannot be used. */
export class InvalidNameError extends ZoneError {}

/** A zone that would not be valid DNS data; it is never written. */
export class InvalidZoneError extends ZoneError {}

/** Writing or reading a zone file failed. */
export class ZoneStoreError extends ZoneError {}

/** The next serial would not fit in 32 bits (RFC 1982 arithmetic is not used on purpose). */
export class SerialExhaustedError extends ZoneError {}
