/**
 * Protocol Buffers wire format, the part proto3 messages of the CRI subset use: varints (int32, uint32,
 * int64, bool, enums), length-delimited fields (strings, embedded messages, map entries), and skipping of
 * every field a decoder does not know (including fixed32/fixed64). Groups (wire types 3 and 4, proto2 only)
 * are refused. Written for the CRI client so it needs no runtime schema loading (see proto/runtime-subset.proto
 * for the messages; tests check this codec against protobufjs reading that file).
 */

export const WireType = {
  VARINT: 0,
  FIXED64: 1,
  LEN: 2,
  START_GROUP: 3,
  END_GROUP: 4,
  FIXED32: 5,
} as const;

/** Bytes that are not a valid encoding of the message being decoded. */
export class WireFormatError extends Error {
  override readonly name = 'WireFormatError';
}

const MAX_FIELD_NUMBER = 2 ** 29 - 1;
const TWO_32 = 2 ** 32;

/**
 * Reads one message's fields in order: `while (!reader.done()) { switch (reader.field()) … }`. After
 * {@link field} the caller reads the value with the method matching the field's type, or calls {@link skip}.
 * Every read is bounds-checked; errors name the message and the byte offset.
 */
export class WireReader {
  private pos: number;
  private currentWireType = -1;

  constructor(
    private readonly buffer: Buffer,
    /** Message name for error messages, e.g. `ListPodSandboxResponse.items`. */
    readonly messageName: string,
    start = 0,
    private readonly end = buffer.length,
  ) {
    this.pos = start;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  private fail(what: string, at = this.pos): never {
    throw new WireFormatError(`${this.messageName}: ${what} at byte ${at}`);
  }

  /** Reads the next tag; returns the field number (its wire type decides which reads are allowed next). */
  field(): number {
    const at = this.pos;
    const tag = this.varint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 0 || field > MAX_FIELD_NUMBER) this.fail(`invalid field number ${field}`, at);
    if (wireType === WireType.START_GROUP || wireType === WireType.END_GROUP) {
      this.fail(`field ${field} uses a group (wire type ${wireType}), which proto3 does not have`, at);
    }
    if (wireType > WireType.FIXED32) this.fail(`field ${field} has unknown wire type ${wireType}`, at);
    this.currentWireType = wireType;
    return field;
  }

  private expect(wireType: number, type: string): void {
    if (this.currentWireType !== wireType) {
      this.fail(`a ${type} field has wire type ${this.currentWireType}, expected ${wireType}`);
    }
  }

  /** A varint's low 32 bits as an unsigned number; longer varints (up to 10 bytes) are consumed whole. */
  private varint32(): number {
    let result = 0;
    for (let index = 0; index < 10; index += 1) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const byte = this.buffer[this.pos++] as number;
      if (index < 5) result += (byte & 0x7f) * 2 ** (7 * index);
      if (byte < 0x80) return result % TWO_32;
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** A varint as an unsigned 64-bit bigint. */
  private varint64(): bigint {
    let result = 0n;
    for (let index = 0; index < 10; index += 1) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const byte = this.buffer[this.pos++] as number;
      result |= BigInt(byte & 0x7f) << BigInt(7 * index);
      if (byte < 0x80) return BigInt.asUintN(64, result);
    }
    return this.fail('varint longer than 10 bytes');
  }

  uint32(): number {
    this.expect(WireType.VARINT, 'uint32');
    return this.varint32();
  }

  /** int32 and enums: negative values are sign-extended 10-byte varints. */
  int32(): number {
    this.expect(WireType.VARINT, 'int32/enum');
    return this.varint32() | 0;
  }

  int64(): bigint {
    this.expect(WireType.VARINT, 'int64');
    return BigInt.asIntN(64, this.varint64());
  }

  bool(): boolean {
    this.expect(WireType.VARINT, 'bool');
    return this.varint32() !== 0;
  }

  private lengthDelimited(type: string): { start: number; end: number } {
    this.expect(WireType.LEN, type);
    const at = this.pos;
    const length = this.varint32();
    const start = this.pos;
    if (length > this.end - start) this.fail(`${type} of ${length} bytes runs past the end`, at);
    this.pos = start + length;
    return { start, end: this.pos };
  }

  /** A UTF-8 string (invalid sequences become U+FFFD, as in protobufjs and Go's decoder). */
  string(): string {
    const { start, end } = this.lengthDelimited('string');
    return this.buffer.toString('utf8', start, end);
  }

  /** An embedded message, decoded by `decode` from a reader limited to its bytes. */
  message<T>(name: string, decode: (reader: WireReader) => T): T {
    const { start, end } = this.lengthDelimited(`message ${name}`);
    return decode(new WireReader(this.buffer, `${this.messageName}.${name}`, start, end));
  }

  /** One entry of a `map<string, string>` field (key = field 1, value = field 2). */
  stringMapEntry(name: string, into: Record<string, string>): void {
    this.message(name, (entry) => {
      let key = '';
      let value = '';
      while (!entry.done()) {
        const field = entry.field();
        if (field === 1) key = entry.string();
        else if (field === 2) value = entry.string();
        else entry.skip();
      }
      into[key] = value;
    });
  }

  /** Skips the value of the current field, whatever its wire type. */
  skip(): void {
    switch (this.currentWireType) {
      case WireType.VARINT:
        this.varint32();
        return;
      case WireType.FIXED64:
        this.advance(8);
        return;
      case WireType.FIXED32:
        this.advance(4);
        return;
      case WireType.LEN:
        this.lengthDelimited('bytes');
        return;
      default:
        this.fail(`cannot skip wire type ${this.currentWireType}`);
    }
  }

  private advance(bytes: number): void {
    if (bytes > this.end - this.pos) this.fail(`truncated ${bytes}-byte fixed field`);
    this.pos += bytes;
  }
}

/** A `map<string, string>` as decoded: a plain object without a prototype, so no key is special. */
export function emptyStringMap(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}

/**
 * Writes one message. Scalars equal to their proto3 default ('' / 0 / false) are left out, as every proto3
 * encoder does; embedded messages are written whenever given (presence is meaningful for them).
 */
export class WireWriter {
  private readonly bytes: number[] = [];

  private varint(value: number | bigint): void {
    let rest = BigInt.asUintN(64, BigInt(value));
    while (rest >= 0x80n) {
      this.bytes.push(Number(rest & 0x7fn) | 0x80);
      rest >>= 7n;
    }
    this.bytes.push(Number(rest));
  }

  private tag(field: number, wireType: number): void {
    if (!Number.isInteger(field) || field < 1 || field > MAX_FIELD_NUMBER) {
      throw new RangeError(`invalid protobuf field number ${field}`);
    }
    this.varint(field * 8 + wireType);
  }

  private checkInteger(field: number, value: number | bigint, min: bigint, max: bigint): void {
    const big = typeof value === 'bigint' ? value : Number.isInteger(value) ? BigInt(value) : undefined;
    if (big === undefined || big < min || big > max) {
      throw new RangeError(`protobuf field ${field}: ${String(value)} is out of range`);
    }
  }

  uint32(field: number, value: number): this {
    this.checkInteger(field, value, 0n, 0xffffffffn);
    if (value !== 0) {
      this.tag(field, WireType.VARINT);
      this.varint(value);
    }
    return this;
  }

  /** int32 and enums. */
  int32(field: number, value: number): this {
    this.checkInteger(field, value, -(2n ** 31n), 2n ** 31n - 1n);
    if (value !== 0) {
      this.tag(field, WireType.VARINT);
      this.varint(value);
    }
    return this;
  }

  int64(field: number, value: bigint): this {
    this.checkInteger(field, value, -(2n ** 63n), 2n ** 63n - 1n);
    if (value !== 0n) {
      this.tag(field, WireType.VARINT);
      this.varint(value);
    }
    return this;
  }

  bool(field: number, value: boolean): this {
    if (value) {
      this.tag(field, WireType.VARINT);
      this.varint(1);
    }
    return this;
  }

  private lengthDelimited(field: number, payload: Uint8Array | readonly number[]): void {
    this.tag(field, WireType.LEN);
    this.varint(payload.length);
    for (const byte of payload) this.bytes.push(byte);
  }

  string(field: number, value: string): this {
    if (value !== '') this.lengthDelimited(field, Buffer.from(value, 'utf8'));
    return this;
  }

  message(field: number, write: (writer: WireWriter) => void): this {
    const inner = new WireWriter();
    write(inner);
    this.lengthDelimited(field, inner.bytes);
    return this;
  }

  /** A `map<string, string>` field: one entry message per key, in the object's key order. */
  stringMap(field: number, map: Readonly<Record<string, string>>): this {
    for (const [key, value] of Object.entries(map)) {
      this.message(field, (entry) => entry.string(1, key).string(2, value));
    }
    return this;
  }

  finish(): Buffer {
    return Buffer.from(this.bytes);
  }
}
