// The hand-written CRI codec, checked against protobufjs reading proto/runtime-subset.proto: what we encode,
// protobufjs decodes to the same values; what protobufjs encodes (also with fields we do not know), we decode
// to the same values; broken bytes give a WireFormatError naming the message, never a wrong result.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { RUNTIME_PROTO_PATH } from './cri-client.js';
import {
  decodeContainerEventResponse,
  decodeListPodSandboxResponse,
  decodePodSandboxStatusResponse,
  decodeVersionResponse,
  encodeListPodSandboxRequest,
  encodePodSandboxStatusRequest,
  encodeVersionRequest,
  type NamespaceMode,
  type PodSandboxSummary,
} from './cri-messages.js';
import { WireFormatError, WireReader, WireWriter } from './wire.js';

const root = protobuf.loadSync(RUNTIME_PROTO_PATH);
const type = (name: string): protobuf.Type => root.lookupType(`runtime.v1.${name}`);

/** protobufjs encoding of a plain object (int64 as decimal strings, enums as numbers). */
function encodeWithProtobufjs(name: string, value: object): Buffer {
  const messageType = type(name);
  const bytes = messageType.encode(messageType.fromObject(value)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** protobufjs decoding to a plain object with proto3 defaults. */
function decodeWithProtobufjs(name: string, bytes: Buffer): Record<string, unknown> {
  const messageType = type(name);
  return messageType.toObject(messageType.decode(bytes), {
    longs: String,
    enums: String,
    defaults: true,
    arrays: true,
    objects: true,
  });
}

const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const metadata = fc.record({ name: text, uid: text, namespace: text, attempt: uint32 });
// Enum values on the wire may be ones this version does not know (e.g. 7): they must not break decoding.
const stateNumber = fc.constantFrom(0, 1, 7);
const toMs = (ns: bigint): number => Number(ns / 1_000_000n);

describe('requests: encoded here, decoded by protobufjs', () => {
  it('VersionRequest', () => {
    expect(decodeWithProtobufjs('VersionRequest', encodeVersionRequest('v1'))).toEqual({ version: 'v1' });
  });

  it('ListPodSandboxRequest asks for every sandbox (no filter)', () => {
    const bytes = encodeListPodSandboxRequest();
    expect(bytes.length).toBe(0);
    expect(decodeWithProtobufjs('ListPodSandboxRequest', bytes)).toEqual({ filter: null });
  });

  it('PodSandboxStatusRequest, for any id', () => {
    fc.assert(
      fc.property(text, fc.boolean(), (id, verbose) => {
        expect(
          decodeWithProtobufjs('PodSandboxStatusRequest', encodePodSandboxStatusRequest(id, verbose)),
        ).toEqual({ podSandboxId: id, verbose });
      }),
    );
  });
});

describe('responses: encoded by protobufjs, decoded here', () => {
  it('VersionResponse', () => {
    const bytes = encodeWithProtobufjs('VersionResponse', {
      version: '0.1.0',
      runtimeName: 'containerd',
      runtimeVersion: '1.6.20~ds1',
      runtimeApiVersion: 'v1',
    });
    expect(decodeVersionResponse(bytes)).toEqual({
      version: '0.1.0',
      runtimeName: 'containerd',
      runtimeVersion: '1.6.20~ds1',
      runtimeApiVersion: 'v1',
    });
  });

  it('ListPodSandboxResponse, any items (absent fields read as proto3 defaults)', () => {
    const item = fc.record(
      { id: text, metadata, state: stateNumber, createdAt: int64 },
      { requiredKeys: ['id'] },
    );
    fc.assert(
      fc.property(fc.array(item, { maxLength: 6 }), (items) => {
        const bytes = encodeWithProtobufjs('ListPodSandboxResponse', {
          items: items.map((entry) => ({ ...entry, createdAt: entry.createdAt?.toString() })),
        });
        const expected: PodSandboxSummary[] = items.map((entry) => ({
          id: entry.id,
          metadata: entry.metadata ?? { name: '', uid: '', namespace: '', attempt: 0 },
          state: (entry.state ?? 0) === 0 ? 'ready' : 'notready',
          createdAtMs: toMs(entry.createdAt ?? 0n),
        }));
        expect(decodeListPodSandboxResponse(bytes)).toEqual(expected);
      }),
    );
  });

  it('PodSandboxStatusResponse: addresses, network mode, hostname from info; labels etc. skipped', () => {
    const modes: NamespaceMode[] = ['pod', 'container', 'node', 'target'];
    fc.assert(
      fc.property(
        text,
        metadata,
        stateNumber,
        int64,
        fc.option(fc.record({ ip: text, extra: fc.array(text, { maxLength: 3 }) }), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
        fc.option(text, { nil: undefined }),
        fc.dictionary(text, text, { maxKeys: 3 }),
        (id, meta, state, createdAt, network, mode, hostname, labels) => {
          const info: Record<string, string> = { other: '{"pid": 1}' };
          if (hostname !== undefined) info['info'] = JSON.stringify({ config: { hostname } });
          const bytes = encodeWithProtobufjs('PodSandboxStatusResponse', {
            status: {
              id,
              metadata: meta,
              state,
              createdAt: createdAt.toString(),
              network:
                network === undefined
                  ? undefined
                  : { ip: network.ip, additionalIps: network.extra.map((ip) => ({ ip })) },
              linux: mode === undefined ? undefined : { namespaces: { options: { network: mode, pid: 2 } } },
              labels,
              annotations: labels,
            },
            info,
          });
          expect(decodePodSandboxStatusResponse(bytes)).toEqual({
            id,
            metadata: meta,
            state: state === 0 ? 'ready' : 'notready',
            createdAtMs: toMs(createdAt),
            ip: network?.ip ?? '',
            additionalIps: (network?.extra ?? []).filter((ip) => ip !== ''),
            networkMode: modes[mode ?? 0],
            hostname: hostname === '' ? undefined : hostname,
          });
        },
      ),
    );
  });

  it('PodSandboxStatusResponse without a status decodes to undefined', () => {
    const bytes = encodeWithProtobufjs('PodSandboxStatusResponse', { info: { info: '{}' } });
    expect(decodePodSandboxStatusResponse(bytes)).toBeUndefined();
  });

  it('an info key named __proto__ is an ordinary key (no prototype games)', () => {
    const bytes = encodeWithProtobufjs('PodSandboxStatusResponse', {
      status: { id: 'abc' },
      info: { ['__proto__']: JSON.stringify({ config: { hostname: 'camera' } }) },
    });
    expect(decodePodSandboxStatusResponse(bytes)?.hostname).toBe('camera');
    expect(({} as Record<string, unknown>)['config']).toBeUndefined();
  });

  it('ContainerEventResponse', () => {
    const bytes = encodeWithProtobufjs('ContainerEventResponse', {
      containerId: 'c1',
      containerEventType: 3,
      createdAt: '1700000000123456789',
      podSandboxStatus: { id: 's1', state: 1 },
    });
    expect(decodeContainerEventResponse(bytes)).toEqual({
      containerId: 'c1',
      type: 'deleted',
      createdAtMs: 1700000000123,
      podSandboxId: 's1',
    });
    const bare = encodeWithProtobufjs('ContainerEventResponse', { containerId: 'c2', containerEventType: 1 });
    expect(decodeContainerEventResponse(bare)).toEqual({
      containerId: 'c2',
      type: 'started',
      createdAtMs: 0,
      podSandboxId: undefined,
    });
  });
});

// A newer runtime sends fields this subset does not list, of every wire type; decoding must skip them.
const SUPERSET = `
syntax = "proto3";
package future;
message Nested { string a = 1; repeated int32 b = 2; }
message PodSandboxMetadata {
  string name = 1; string uid = 2; string namespace = 3; uint32 attempt = 4;
  fixed64 f64 = 9; fixed32 f32 = 10;
}
message PodSandbox {
  string id = 1; PodSandboxMetadata metadata = 2; int32 state = 3; int64 created_at = 4;
  map<string, string> labels = 5; map<string, string> annotations = 6; string runtime_handler = 7;
  double d = 20; float f = 21; sint64 s = 22; repeated int32 packed = 23; Nested nested = 24; bytes raw = 25;
  sfixed64 sf = 536870911;
}
message ListPodSandboxResponse { repeated PodSandbox items = 1; Nested trailer = 2; }
`;

describe('unknown fields', () => {
  const future = protobuf.parse(SUPERSET).root.lookupType('future.ListPodSandboxResponse');

  it('are skipped, whatever their wire type and field number', () => {
    fc.assert(
      fc.property(text, int64, fc.array(fc.integer(), { maxLength: 5 }), (id, createdAt, packed) => {
        const bytes = future
          .encode(
            future.fromObject({
              items: [
                {
                  id,
                  metadata: { name: 'web', namespace: 'edge', attempt: 2, f64: '123', f32: 7 },
                  state: 1,
                  createdAt: createdAt.toString(),
                  labels: { app: 'web' },
                  runtimeHandler: 'runc',
                  d: 1.5,
                  f: -2.5,
                  s: '-9',
                  packed,
                  nested: { a: 'x', b: packed },
                  raw: Buffer.from([0, 255, 128]),
                  sf: '-1',
                },
              ],
              trailer: { a: 'end' },
            }),
          )
          .finish();
        expect(decodeListPodSandboxResponse(Buffer.from(bytes))).toEqual([
          {
            id,
            metadata: { name: 'web', uid: '', namespace: 'edge', attempt: 2 },
            state: 'notready',
            createdAtMs: toMs(createdAt),
          },
        ]);
      }),
    );
  });
});

describe('malformed bytes', () => {
  const valid = encodeWithProtobufjs('ListPodSandboxResponse', {
    items: [
      { id: 'a'.repeat(64), metadata: { name: 'web', namespace: 'edge' }, createdAt: '1700000000000000000' },
      { id: 'b'.repeat(64), state: 1 },
    ],
  });

  it('every truncation either decodes a prefix of the items or throws WireFormatError', () => {
    const full = decodeListPodSandboxResponse(valid);
    let failures = 0;
    for (let length = 0; length < valid.length; length += 1) {
      try {
        const items = decodeListPodSandboxResponse(valid.subarray(0, length));
        // Only a cut at an item boundary is a valid (shorter) message.
        expect(full.slice(0, items.length)).toEqual(items);
      } catch (error) {
        expect(error).toBeInstanceOf(WireFormatError);
        expect((error as Error).message).toMatch(
          /^ListPodSandboxResponse(\.items(\.metadata)?)?: .* at byte \d+$/,
        );
        failures += 1;
      }
    }
    expect(failures).toBeGreaterThan(valid.length - 4);
  });

  it.each([
    ['a group (wire type 3)', [0x0b], /field 1 uses a group/],
    ['an end-group (wire type 4)', [0x0c], /field 1 uses a group/],
    ['wire type 6', [0x0e], /unknown wire type 6/],
    ['field number 0', [0x02, 0x00], /invalid field number 0/],
    ['a length past the end', [0x0a, 0x05, 0x0a], /runs past the end/],
    [
      'an 11-byte varint (unknown field 3)',
      [0x18, ...Array<number>(10).fill(0xff), 0x01],
      /longer than 10 bytes/,
    ],
    ['a truncated fixed64 (unknown field 3)', [0x19, 1, 2, 3], /truncated 8-byte fixed field/],
    ['items sent as a varint', [0x08, 0x01], /expected 2/],
  ])('%s is refused', (_what, bytes, message) => {
    expect(() => decodeListPodSandboxResponse(Buffer.from(bytes))).toThrow(message);
  });

  it('a nested error names the path', () => {
    // items[0].metadata with a string whose length runs past the metadata's end.
    const bytes = Buffer.from([0x0a, 0x04, 0x12, 0x02, 0x0a, 0x05]);
    expect(() => decodeListPodSandboxResponse(bytes)).toThrow(
      /^ListPodSandboxResponse\.items\.metadata: string of 5 bytes runs past the end at byte 5$/,
    );
  });
});

describe('WireWriter / WireReader', () => {
  it('round-trips every int32, uint32 and int64 edge value', () => {
    const writer = new WireWriter()
      .int32(1, -1)
      .int32(2, -(2 ** 31))
      .int32(3, 2 ** 31 - 1)
      .uint32(4, 0xffffffff)
      .int64(5, -(2n ** 63n))
      .int64(6, 2n ** 63n - 1n)
      .int64(7, -1n);
    const reader = new WireReader(writer.finish(), 'Edges');
    const values: (number | bigint)[] = [];
    while (!reader.done()) {
      const field = reader.field();
      values.push(field <= 3 ? reader.int32() : field === 4 ? reader.uint32() : reader.int64());
    }
    expect(values).toEqual([-1, -(2 ** 31), 2 ** 31 - 1, 0xffffffff, -(2n ** 63n), 2n ** 63n - 1n, -1n]);
  });

  it.each([
    ['uint32 -1', (w: WireWriter) => w.uint32(1, -1)],
    ['uint32 2^32', (w: WireWriter) => w.uint32(1, 2 ** 32)],
    ['int32 1.5', (w: WireWriter) => w.int32(1, 1.5)],
    ['int64 2^63', (w: WireWriter) => w.int64(1, 2n ** 63n)],
    ['field 0', (w: WireWriter) => w.string(0, 'x')],
  ])('refuses %s', (_what, write) => {
    expect(() => write(new WireWriter())).toThrow(RangeError);
  });
});
