import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { CriCallError, CriUnimplementedError, toCriError, type CriError } from './errors.js';
import { socketPathFromEndpoint } from './endpoint.js';

/** Path of the shipped proto subset; `src/` and `dist/` are both siblings of `proto/`. */
export const RUNTIME_PROTO_PATH = fileURLToPath(new URL('../proto/runtime-subset.proto', import.meta.url));

const SERVICE = 'runtime.v1.RuntimeService';

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

/** Configuration for {@link CriClient.runPodSandbox} (test harness). */
export interface RunPodSandboxInput {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly hostname?: string;
  readonly hostNetwork?: boolean;
  readonly logDirectory?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly cgroupParent?: string;
}

/** A running `GetContainerEvents` stream. */
export interface ContainerEventWatch {
  cancel(): void;
}

/** What the {@link CriWatcher} needs from a runtime; {@link CriClient} implements it. */
export interface SandboxRuntime {
  readonly endpoint: string;
  listPodSandboxes(): Promise<PodSandboxSummary[]>;
  podSandboxStatus(id: string, verbose: boolean): Promise<PodSandboxDetails>;
  /** `onEnd` gets a {@link CriUnimplementedError} when the runtime has no event stream. */
  watchContainerEvents(
    onEvent: (event: ContainerEvent) => void,
    onEnd: (error: CriError | undefined) => void,
  ): ContainerEventWatch;
  /** Drops the connection and dials afresh (after the socket reappeared). */
  reconnect(): void;
  close(): void;
}

export interface CriClientOptions {
  /** `unix:///path` or an absolute socket path. */
  readonly endpoint: string;
  /** Deadline of every unary call in ms (default 5000). */
  readonly timeoutMs?: number;
  /** Upper bound of gRPC's own reconnect backoff in ms (default 1000). */
  readonly maxReconnectBackoffMs?: number;
}

// ---- raw decoded messages (proto-loader: camelCase, enums as strings, longs as strings, defaults) ----
interface RawMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}
interface RawSandbox {
  id: string;
  metadata: RawMetadata | null;
  state: string;
  createdAt: string;
}
interface RawSandboxStatus extends RawSandbox {
  network: { ip: string; additionalIps: { ip: string }[] } | null;
  linux: { namespaces: { options: { network: string } | null } | null } | null;
}
interface RawStatusResponse {
  status: RawSandboxStatus | null;
  info: Record<string, string>;
}
interface RawEvent {
  containerId: string;
  containerEventType: string;
  createdAt: string;
  podSandboxStatus: RawSandboxStatus | null;
}

type MethodDefinition = grpc.MethodDefinition<object, unknown>;

let cachedService: grpc.ServiceDefinition | undefined;

function loadService(): grpc.ServiceDefinition {
  if (cachedService !== undefined) return cachedService;
  const definition = protoLoader.loadSync(RUNTIME_PROTO_PATH, {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    arrays: true,
    objects: false,
  });
  const service = definition[SERVICE];
  if (service === undefined || 'format' in service) {
    throw new Error(`${RUNTIME_PROTO_PATH} does not define service ${SERVICE}`);
  }
  cachedService = service;
  return service;
}

function nsToMs(value: string | number | undefined): number {
  if (value === undefined || value === '') return 0;
  try {
    return Number(BigInt(value) / 1_000_000n);
  } catch {
    return 0;
  }
}

function toMetadata(raw: RawMetadata | null): SandboxMetadata {
  return {
    name: raw?.name ?? '',
    uid: raw?.uid ?? '',
    namespace: raw?.namespace ?? '',
    attempt: raw?.attempt ?? 0,
  };
}

function toState(raw: string): SandboxState {
  return raw === 'SANDBOX_READY' ? 'ready' : 'notready';
}

function toNamespaceMode(raw: string | undefined): NamespaceMode {
  switch (raw) {
    case 'NODE':
      return 'node';
    case 'CONTAINER':
      return 'container';
    case 'TARGET':
      return 'target';
    default:
      return 'pod';
  }
}

const EVENT_TYPES: Readonly<Record<string, ContainerEventType>> = {
  CONTAINER_CREATED_EVENT: 'created',
  CONTAINER_STARTED_EVENT: 'started',
  CONTAINER_STOPPED_EVENT: 'stopped',
  CONTAINER_DELETED_EVENT: 'deleted',
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

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
    if (!isRecord(parsed)) continue;
    const config = parsed['config'];
    if (isRecord(config) && typeof config['hostname'] === 'string' && config['hostname'] !== '') {
      return config['hostname'];
    }
    const spec = parsed['runtimeSpec'];
    if (isRecord(spec) && typeof spec['hostname'] === 'string' && spec['hostname'] !== '') {
      return spec['hostname'];
    }
  }
  return undefined;
}

function toSummary(raw: RawSandbox): PodSandboxSummary {
  return {
    id: raw.id,
    metadata: toMetadata(raw.metadata),
    state: toState(raw.state),
    createdAtMs: nsToMs(raw.createdAt),
  };
}

function toDetails(raw: RawSandboxStatus, info: Record<string, string>): PodSandboxDetails {
  return {
    ...toSummary(raw),
    ip: raw.network?.ip ?? '',
    additionalIps: (raw.network?.additionalIps ?? []).map((entry) => entry.ip).filter((ip) => ip !== ''),
    networkMode: toNamespaceMode(raw.linux?.namespaces?.options?.network),
    hostname: hostnameFromVerboseInfo(info),
  };
}

/**
 * A small CRI `RuntimeService` client over the runtime's unix socket. Every unary call has a deadline; every
 * failure is a typed {@link CriError} (`transient` ones are {@link CriUnavailableError}).
 */
export class CriClient implements SandboxRuntime {
  readonly endpoint: string;
  readonly socketPath: string;
  private readonly timeoutMs: number;
  private readonly channelOptions: grpc.ChannelOptions;
  private client: grpc.Client;
  private readonly service: grpc.ServiceDefinition;

  constructor(options: CriClientOptions) {
    this.socketPath = socketPathFromEndpoint(options.endpoint);
    this.endpoint = `unix://${this.socketPath}`;
    this.timeoutMs = options.timeoutMs ?? 5000;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new RangeError(`CRI call timeout must be a positive number of ms, got ${this.timeoutMs}`);
    }
    const maxBackoff = options.maxReconnectBackoffMs ?? 1000;
    this.channelOptions = {
      'grpc.initial_reconnect_backoff_ms': Math.min(200, maxBackoff),
      'grpc.max_reconnect_backoff_ms': maxBackoff,
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
    };
    this.service = loadService();
    this.client = this.dial();
  }

  private dial(): grpc.Client {
    return new grpc.Client(this.endpoint, grpc.credentials.createInsecure(), this.channelOptions);
  }

  private method(name: string): MethodDefinition {
    const definition = this.service[name] as MethodDefinition | undefined;
    if (definition === undefined) throw new Error(`${SERVICE}/${name} is not in ${RUNTIME_PROTO_PATH}`);
    return definition;
  }

  private unary<T>(name: string, request: object): Promise<T> {
    const definition = this.method(name);
    return new Promise<T>((resolve, reject) => {
      this.client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + this.timeoutMs },
        (error, response) => {
          if (error !== null) reject(toCriError(name, error, this.endpoint));
          else if (response === undefined) {
            reject(new CriCallError(`CRI ${name} on ${this.endpoint} returned no response`, name, undefined));
          } else resolve(response as T);
        },
      );
    });
  }

  async version(): Promise<RuntimeVersion> {
    const raw = await this.unary<RuntimeVersion>('Version', { version: 'v1' });
    return {
      version: raw.version,
      runtimeName: raw.runtimeName,
      runtimeVersion: raw.runtimeVersion,
      runtimeApiVersion: raw.runtimeApiVersion,
    };
  }

  async listPodSandboxes(): Promise<PodSandboxSummary[]> {
    const raw = await this.unary<{ items: RawSandbox[] }>('ListPodSandbox', {});
    return raw.items.map(toSummary);
  }

  async podSandboxStatus(id: string, verbose: boolean): Promise<PodSandboxDetails> {
    const raw = await this.unary<RawStatusResponse>('PodSandboxStatus', { podSandboxId: id, verbose });
    if (raw.status === null) {
      throw new CriCallError(
        `CRI PodSandboxStatus on ${this.endpoint} returned no status for ${id}`,
        'PodSandboxStatus',
        undefined,
      );
    }
    return toDetails(raw.status, raw.info);
  }

  watchContainerEvents(
    onEvent: (event: ContainerEvent) => void,
    onEnd: (error: CriError | undefined) => void,
  ): ContainerEventWatch {
    const definition = this.method('GetContainerEvents');
    // A long-lived stream: no deadline; it ends when the runtime goes away or cancel() is called.
    const call = this.client.makeServerStreamRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize,
      {},
      new grpc.Metadata(),
    );
    let ended = false;
    let cancelled = false;
    const finish = (error: CriError | undefined): void => {
      if (ended) return;
      ended = true;
      onEnd(cancelled ? undefined : error);
    };
    call.on('data', (data: unknown) => {
      const raw = data as RawEvent;
      onEvent({
        containerId: raw.containerId,
        type: EVENT_TYPES[raw.containerEventType] ?? 'created',
        createdAtMs: nsToMs(raw.createdAt),
        podSandboxId: raw.podSandboxStatus?.id === '' ? undefined : raw.podSandboxStatus?.id,
      });
    });
    call.on('error', (error: unknown) => {
      const criError = toCriError('GetContainerEvents', error, this.endpoint);
      finish(
        criError.code === grpc.status.UNIMPLEMENTED && !(criError instanceof CriUnimplementedError)
          ? new CriUnimplementedError(criError.message, 'GetContainerEvents')
          : criError,
      );
    });
    call.on('end', () => {
      finish(undefined);
    });
    return {
      cancel: () => {
        cancelled = true;
        call.cancel();
      },
    };
  }

  async runPodSandbox(input: RunPodSandboxInput): Promise<string> {
    const config = {
      metadata: { name: input.name, uid: input.uid, namespace: input.namespace, attempt: 0 },
      hostname: input.hostname ?? (input.hostNetwork === true ? '' : input.name),
      logDirectory: input.logDirectory ?? '',
      labels: { ...input.labels },
      annotations: {},
      linux: {
        cgroupParent: input.cgroupParent ?? '',
        securityContext: {
          namespaceOptions: {
            network: input.hostNetwork === true ? 'NODE' : 'POD',
            pid: 'CONTAINER',
            ipc: 'POD',
          },
        },
      },
    };
    const raw = await this.unary<{ podSandboxId: string }>('RunPodSandbox', { config, runtimeHandler: '' });
    return raw.podSandboxId;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.unary('StopPodSandbox', { podSandboxId: id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.unary('RemovePodSandbox', { podSandboxId: id });
  }

  reconnect(): void {
    const old = this.client;
    this.client = this.dial();
    old.close();
  }

  close(): void {
    this.client.close();
  }
}
