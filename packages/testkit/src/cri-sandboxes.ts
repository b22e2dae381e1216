/**
 * Creating and removing pod sandboxes over CRI, for tests and benchmarks only: zonewright itself never
 * creates sandboxes, so these calls live here and not in @zonewright/cri-watcher. Messages are encoded with
 * cri-watcher's wire codec; field numbers are those of its proto/runtime-subset.proto.
 */
import { CriClient, WireReader, WireWriter } from '@zonewright/cri-watcher';

/** Configuration for `RunPodSandbox`. */
export interface RunPodSandboxInput {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly hostname?: string | undefined;
  readonly hostNetwork?: boolean;
  readonly logDirectory?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly cgroupParent?: string;
}

// runtime.v1 NamespaceMode numbers.
const NAMESPACE_POD = 0;
const NAMESPACE_CONTAINER = 1;
const NAMESPACE_NODE = 2;

/** `StopPodSandboxRequest` / `RemovePodSandboxRequest { string pod_sandbox_id = 1; }` */
export function encodePodSandboxIdRequest(podSandboxId: string): Buffer {
  return new WireWriter().string(1, podSandboxId).finish();
}

/** `RunPodSandboxRequest { PodSandboxConfig config = 1; string runtime_handler = 2; }` */
export function encodeRunPodSandboxRequest(input: RunPodSandboxInput): Buffer {
  const hostNetwork = input.hostNetwork === true;
  return new WireWriter()
    .message(1, (config) => {
      config
        .message(1, (metadata) =>
          metadata.string(1, input.name).string(2, input.uid).string(3, input.namespace).uint32(4, 0),
        )
        .string(2, input.hostname ?? (hostNetwork ? '' : input.name))
        .string(3, input.logDirectory ?? '')
        .stringMap(6, input.labels ?? {})
        .message(8, (linux) =>
          linux.string(1, input.cgroupParent ?? '').message(2, (security) =>
            security.message(1, (namespaces) =>
              namespaces
                .int32(1, hostNetwork ? NAMESPACE_NODE : NAMESPACE_POD)
                .int32(2, NAMESPACE_CONTAINER)
                .int32(3, NAMESPACE_POD),
            ),
          ),
        );
    })
    .finish();
}

/** `RunPodSandboxResponse { string pod_sandbox_id = 1; }` */
export function decodeRunPodSandboxResponse(buffer: Buffer): string {
  const reader = new WireReader(buffer, 'RunPodSandboxResponse');
  let id = '';
  while (!reader.done()) {
    if (reader.field() === 1) id = reader.string();
    else reader.skip();
  }
  return id;
}

/** A response without fields we read (`StopPodSandboxResponse`, …): checked to be well-formed, then dropped. */
export function decodeEmptyResponse(name: string): (buffer: Buffer) => Record<string, never> {
  return (buffer) => {
    const reader = new WireReader(buffer, name);
    while (!reader.done()) {
      reader.field();
      reader.skip();
    }
    return {};
  };
}

/** The product's CRI client plus the calls only a test harness makes. */
export class CriTestClient extends CriClient {
  runPodSandbox(input: RunPodSandboxInput): Promise<string> {
    return this.unary('RunPodSandbox', encodeRunPodSandboxRequest(input), decodeRunPodSandboxResponse);
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.unary(
      'StopPodSandbox',
      encodePodSandboxIdRequest(id),
      decodeEmptyResponse('StopPodSandboxResponse'),
    );
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.unary(
      'RemovePodSandbox',
      encodePodSandboxIdRequest(id),
      decodeEmptyResponse('RemovePodSandboxResponse'),
    );
  }
}
