// testkit's sandbox calls, checked against protobufjs reading cri-watcher's proto/runtime-subset.proto: what we
// encode, protobufjs decodes to the same values, and the reverse for the responses.
import { describe, expect, it } from '@jest/globals';
import { RUNTIME_PROTO_PATH } from '@zonewright/cri-watcher';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import {
  decodeEmptyResponse,
  decodeRunPodSandboxResponse,
  encodePodSandboxIdRequest,
  encodeRunPodSandboxRequest,
} from './cri-sandboxes.js';

const root = protobuf.loadSync(RUNTIME_PROTO_PATH);
const type = (name: string): protobuf.Type => root.lookupType(`runtime.v1.${name}`);

function encodeWithProtobufjs(name: string, value: object): Buffer {
  const messageType = type(name);
  const bytes = messageType.encode(messageType.fromObject(value)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

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
const metadata = fc.record({ name: text, uid: text, namespace: text });

describe('sandbox requests: encoded here, decoded by protobufjs', () => {
  it('StopPodSandboxRequest / RemovePodSandboxRequest, for any id', () => {
    fc.assert(
      fc.property(text, (id) => {
        expect(decodeWithProtobufjs('StopPodSandboxRequest', encodePodSandboxIdRequest(id))).toEqual({
          podSandboxId: id,
        });
      }),
    );
  });

  it('RunPodSandboxRequest carries metadata, hostname, labels and the namespace modes', () => {
    fc.assert(
      fc.property(
        metadata,
        fc.option(text, { nil: undefined }),
        fc.boolean(),
        fc.dictionary(text, text, { maxKeys: 4 }),
        (meta, hostname, hostNetwork, labels) => {
          const decoded = decodeWithProtobufjs(
            'RunPodSandboxRequest',
            encodeRunPodSandboxRequest({
              name: meta.name,
              uid: meta.uid,
              namespace: meta.namespace,
              hostname,
              hostNetwork,
              labels,
              logDirectory: '/var/log/pods/x',
              cgroupParent: '/zw',
            }),
          );
          expect(decoded).toEqual({
            runtimeHandler: '',
            config: {
              metadata: { name: meta.name, uid: meta.uid, namespace: meta.namespace, attempt: 0 },
              hostname: hostname ?? (hostNetwork ? '' : meta.name),
              logDirectory: '/var/log/pods/x',
              labels,
              annotations: {},
              linux: {
                cgroupParent: '/zw',
                securityContext: {
                  namespaceOptions: { network: hostNetwork ? 'NODE' : 'POD', pid: 'CONTAINER', ipc: 'POD' },
                },
              },
            },
          });
        },
      ),
    );
  });
});

describe('sandbox responses: encoded by protobufjs, decoded here', () => {
  it('RunPodSandboxResponse and empty responses', () => {
    expect(
      decodeRunPodSandboxResponse(encodeWithProtobufjs('RunPodSandboxResponse', { podSandboxId: 'p1' })),
    ).toBe('p1');
    expect(decodeEmptyResponse('StopPodSandboxResponse')(Buffer.alloc(0))).toEqual({});
  });
});
