/**
 * The CRI `runtime.v1` messages zonewright sends and reads, encoded and decoded by hand on the wire format
 * (./wire.ts). Field numbers are those of proto/runtime-subset.proto; every field not listed there is skipped.
 * Decoders return the shapes the watcher uses, with proto3 defaults for absent fields.
 */
import { isJsonObject } from '@zonewright/zone';
import { WireReader, WireWriter, emptyStringMap } from './wire.js';

export type SandboxState = 'ready' | 'notready';
export type NamespaceMode = 'pod' | 'container' | 'node' | 'target';
export type ContainerEventType = 'created' | 'started' | 'stopped' | 'deleted';

export interface RuntimeVersion {
  readonly version: string;
  readonly runtimeName: string;
  readonly runtimeVersion: string;
  readonly runtimeApiVersion: string;
}

export interface SandboxMetadata {
  readonly name: string;
  readonly uid: string;
  readonly namespace: string;
  readonly attempt: number;
}

/** One item of `ListPodSandbox`. */
export interface PodSandboxSummary {
  readonly id: string;
  readonly metadata: SandboxMetadata;
  readonly state: SandboxState;
  /** Creation time in milliseconds since the epoch. */
  readonly createdAtMs: number;
}

/** `PodSandboxStatus` reduced to what DNS needs. */
export interface PodSandboxDetails extends PodSandboxSummary {
  /** Primary IP ('' when the runtime reports none, e.g. host network in containerd). */
  readonly ip: string;
  readonly additionalIps: readonly string[];
  /** Network namespace mode; `node` means hostNetwork. */
  readonly networkMode: NamespaceMode;
  /** The pod's hostname from the verbose info, when the runtime reports it. */
  readonly hostname: string | undefined;
}

export interface ContainerEvent {
  readonly containerId: string;
  readonly type: ContainerEventType;
  readonly createdAtMs: number;
  /** Sandbox id, when the runtime attached the sandbox status. */
  readonly podSandboxId: string | undefined;
}

// Enum numbers of runtime.v1.
const SANDBOX_READY = 0;
const NAMESPACE_MODES: readonly NamespaceMode[] = ['pod', 'container', 'node', 'target'];
const EVENT_TYPES: readonly ContainerEventType[] = ['created', 'started', 'stopped', 'deleted'];

/**
 * The pod's hostname from a verbose `PodSandboxStatus` `info` map: containerd puts the sandbox config under
 * `info` → `config.hostname`; CRI-O puts the OCI spec under `info` → `runtimeSpec.hostname`. Returns
 * undefined when neither is present (or the JSON is not parseable).
 */
export function hostnameFromVerboseInfo(info: Readonly<Record<string, string>>): string | undefined {
  for (const value of Object.values(info)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      continue;
    }
    if (!isJsonObject(parsed)) continue;
    const config = parsed['config'];
    if (isJsonObject(config) && typeof config['hostname'] === 'string' && config['hostname'] !== '') {
      return config['hostname'];
    }
    const spec = parsed['runtimeSpec'];
    if (isJsonObject(spec) && typeof spec['hostname'] === 'string' && spec['hostname'] !== '') {
      return spec['hostname'];
    }
  }
  return undefined;
}

/** Nanoseconds since the epoch (int64) → whole milliseconds. */
function nsToMs(ns: bigint): number {
  return Number(ns / 1_000_000n);
}

// ---- requests ----

/** `VersionRequest { string version = 1; }` */
export function encodeVersionRequest(version: string): Buffer {
  return new WireWriter().string(1, version).finish();
}

/** `ListPodSandboxRequest` without a filter (every sandbox; the watcher filters by state itself). */
export function encodeListPodSandboxRequest(): Buffer {
  return Buffer.alloc(0);
}

/** `PodSandboxStatusRequest { string pod_sandbox_id = 1; bool verbose = 2; }` */
export function encodePodSandboxStatusRequest(podSandboxId: string, verbose: boolean): Buffer {
  return new WireWriter().string(1, podSandboxId).bool(2, verbose).finish();
}

/** `GetEventsRequest {}` */
export function encodeGetEventsRequest(): Buffer {
  return Buffer.alloc(0);
}

// ---- responses ----

/** `VersionResponse` */
export function decodeVersionResponse(buffer: Buffer): RuntimeVersion {
  const reader = new WireReader(buffer, 'VersionResponse');
  let version = '';
  let runtimeName = '';
  let runtimeVersion = '';
  let runtimeApiVersion = '';
  while (!reader.done()) {
    switch (reader.field()) {
      case 1:
        version = reader.string();
        break;
      case 2:
        runtimeName = reader.string();
        break;
      case 3:
        runtimeVersion = reader.string();
        break;
      case 4:
        runtimeApiVersion = reader.string();
        break;
      default:
        reader.skip();
    }
  }
  return { version, runtimeName, runtimeVersion, runtimeApiVersion };
}

function decodeMetadata(reader: WireReader): SandboxMetadata {
  let name = '';
  let uid = '';
  let namespace = '';
  let attempt = 0;
  while (!reader.done()) {
    switch (reader.field()) {
      case 1:
        name = reader.string();
        break;
      case 2:
        uid = reader.string();
        break;
      case 3:
        namespace = reader.string();
        break;
      case 4:
        attempt = reader.uint32();
        break;
      default:
        reader.skip();
    }
  }
  return { name, uid, namespace, attempt };
}

const NO_METADATA: SandboxMetadata = { name: '', uid: '', namespace: '', attempt: 0 };

/**
 * The fields `PodSandbox` (ListPodSandbox items) and `PodSandboxStatus` share, with the same numbers: id 1,
 * metadata 2, state 3, created_at 4. `more` reads any other field of the message and returns false for one it
 * does not know (skipped).
 */
function decodeSandboxFields(reader: WireReader, more?: (field: number) => boolean): PodSandboxSummary {
  let id = '';
  let metadata = NO_METADATA;
  let state = SANDBOX_READY;
  let createdAt = 0n;
  while (!reader.done()) {
    const field = reader.field();
    switch (field) {
      case 1:
        id = reader.string();
        break;
      case 2:
        metadata = reader.message('metadata', decodeMetadata);
        break;
      case 3:
        state = reader.int32();
        break;
      case 4:
        createdAt = reader.int64();
        break;
      default:
        if (more?.(field) !== true) reader.skip();
    }
  }
  return {
    id,
    metadata,
    state: state === SANDBOX_READY ? 'ready' : 'notready',
    createdAtMs: nsToMs(createdAt),
  };
}

const decodePodSandbox = (reader: WireReader): PodSandboxSummary => decodeSandboxFields(reader);

/** `ListPodSandboxResponse { repeated PodSandbox items = 1; }` */
export function decodeListPodSandboxResponse(buffer: Buffer): PodSandboxSummary[] {
  const reader = new WireReader(buffer, 'ListPodSandboxResponse');
  const items: PodSandboxSummary[] = [];
  while (!reader.done()) {
    if (reader.field() === 1) items.push(reader.message('items', decodePodSandbox));
    else reader.skip();
  }
  return items;
}

interface NetworkStatus {
  readonly ip: string;
  readonly additionalIps: readonly string[];
}

/** `PodSandboxNetworkStatus { string ip = 1; repeated PodIP additional_ips = 2; }`, `PodIP { string ip = 1; }` */
function decodeNetworkStatus(reader: WireReader): NetworkStatus {
  let ip = '';
  const additionalIps: string[] = [];
  while (!reader.done()) {
    const field = reader.field();
    if (field === 1) ip = reader.string();
    else if (field === 2) {
      const extra = reader.message('additional_ips', (podIp) => {
        let value = '';
        while (!podIp.done()) {
          if (podIp.field() === 1) value = podIp.string();
          else podIp.skip();
        }
        return value;
      });
      if (extra !== '') additionalIps.push(extra);
    } else reader.skip();
  }
  return { ip, additionalIps };
}

/** Reads `field` of a message made only of one embedded message at `field` (or skips it): linux → namespaces → options. */
function nested<T>(
  reader: WireReader,
  field: number,
  name: string,
  decode: (inner: WireReader) => T,
): T | undefined {
  let result: T | undefined;
  while (!reader.done()) {
    if (reader.field() === field) result = reader.message(name, decode);
    else reader.skip();
  }
  return result;
}

/** `LinuxPodSandboxStatus.namespaces (1)` → `Namespace.options (2)` → `NamespaceOption.network (1)`. */
function decodeNetworkMode(linux: WireReader): NamespaceMode {
  const network = nested(linux, 1, 'namespaces', (namespaces) =>
    nested(namespaces, 2, 'options', (options) => {
      let mode = 0;
      while (!options.done()) {
        if (options.field() === 1) mode = options.int32();
        else options.skip();
      }
      return mode;
    }),
  );
  return NAMESPACE_MODES[network ?? 0] ?? 'pod';
}

interface SandboxStatusFields extends PodSandboxSummary {
  readonly network: NetworkStatus | undefined;
  readonly networkMode: NamespaceMode;
}

/** `PodSandboxStatus`: the shared fields, network 5, linux 6. */
function decodeSandboxStatus(reader: WireReader): SandboxStatusFields {
  let network: NetworkStatus | undefined;
  let networkMode: NamespaceMode = 'pod';
  const summary = decodeSandboxFields(reader, (field) => {
    if (field === 5) network = reader.message('network', decodeNetworkStatus);
    else if (field === 6) networkMode = reader.message('linux', decodeNetworkMode);
    else return false;
    return true;
  });
  return { ...summary, network, networkMode };
}

/**
 * `PodSandboxStatusResponse { PodSandboxStatus status = 1; map<string, string> info = 2; }`. Returns undefined
 * when the runtime sent no status.
 */
export function decodePodSandboxStatusResponse(buffer: Buffer): PodSandboxDetails | undefined {
  const reader = new WireReader(buffer, 'PodSandboxStatusResponse');
  let status: SandboxStatusFields | undefined;
  const info = emptyStringMap();
  while (!reader.done()) {
    const field = reader.field();
    if (field === 1) status = reader.message('status', decodeSandboxStatus);
    else if (field === 2) reader.stringMapEntry('info', info);
    else reader.skip();
  }
  if (status === undefined) return undefined;
  const { network, ...summary } = status;
  return {
    ...summary,
    ip: network?.ip ?? '',
    additionalIps: network?.additionalIps ?? [],
    hostname: hostnameFromVerboseInfo(info),
  };
}

/** `ContainerEventResponse`: container_id 1, container_event_type 2, created_at 3, pod_sandbox_status 4. */
export function decodeContainerEventResponse(buffer: Buffer): ContainerEvent {
  const reader = new WireReader(buffer, 'ContainerEventResponse');
  let containerId = '';
  let type = 0;
  let createdAt = 0n;
  let podSandboxId: string | undefined;
  while (!reader.done()) {
    switch (reader.field()) {
      case 1:
        containerId = reader.string();
        break;
      case 2:
        type = reader.int32();
        break;
      case 3:
        createdAt = reader.int64();
        break;
      case 4: {
        const id = reader.message('pod_sandbox_status', decodeSandboxStatus).id;
        podSandboxId = id === '' ? undefined : id;
        break;
      }
      default:
        reader.skip();
    }
  }
  return { containerId, type: EVENT_TYPES[type] ?? 'created', createdAtMs: nsToMs(createdAt), podSandboxId };
}
