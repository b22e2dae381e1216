import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import {
  decodeContainerEventResponse,
  decodeListPodSandboxResponse,
  decodePodSandboxStatusResponse,
  decodeVersionResponse,
  encodeGetEventsRequest,
  encodeListPodSandboxRequest,
  encodePodSandboxStatusRequest,
  encodeVersionRequest,
  type ContainerEvent,
  type PodSandboxDetails,
  type PodSandboxSummary,
  type RuntimeVersion,
} from './cri-messages.js';
import { CriCallError, CriUnimplementedError, toCriError, type CriError } from './errors.js';
import { socketPathFromEndpoint } from './endpoint.js';

/**
 * The proto subset the client speaks (documentation of the wire contract, and the schema the codec tests
 * check ./cri-messages.ts against); `src/` and `dist/` are both siblings of `proto/`.
 */
export const RUNTIME_PROTO_PATH = fileURLToPath(new URL('../proto/runtime-subset.proto', import.meta.url));

const SERVICE_PATH = '/runtime.v1.RuntimeService/';

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

/** Requests are encoded before the call; grpc-js gets them as bytes. */
const asBytes = (request: Buffer): Buffer => request;

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
    this.client = this.dial();
  }

  private dial(): grpc.Client {
    return new grpc.Client(this.endpoint, grpc.credentials.createInsecure(), this.channelOptions);
  }

  /** One unary call with the deadline, errors as {@link CriError} (for subclasses such as testkit's). */
  protected unary<T>(name: string, request: Buffer, decode: (response: Buffer) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.client.makeUnaryRequest(
        SERVICE_PATH + name,
        asBytes,
        decode,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + this.timeoutMs },
        (error, response) => {
          if (error !== null) reject(toCriError(name, error, this.endpoint));
          else if (response === undefined) {
            reject(new CriCallError(`CRI ${name} on ${this.endpoint} returned no response`, name, undefined));
          } else resolve(response);
        },
      );
    });
  }

  version(): Promise<RuntimeVersion> {
    return this.unary('Version', encodeVersionRequest('v1'), decodeVersionResponse);
  }

  listPodSandboxes(): Promise<PodSandboxSummary[]> {
    return this.unary('ListPodSandbox', encodeListPodSandboxRequest(), decodeListPodSandboxResponse);
  }

  async podSandboxStatus(id: string, verbose: boolean): Promise<PodSandboxDetails> {
    const details = await this.unary(
      'PodSandboxStatus',
      encodePodSandboxStatusRequest(id, verbose),
      // grpc-js treats `undefined` as "no response"; keep "no status" apart from that.
      (buffer) => decodePodSandboxStatusResponse(buffer) ?? null,
    );
    if (details === null) {
      throw new CriCallError(
        `CRI PodSandboxStatus on ${this.endpoint} returned no status for ${id}`,
        'PodSandboxStatus',
        undefined,
      );
    }
    return details;
  }

  watchContainerEvents(
    onEvent: (event: ContainerEvent) => void,
    onEnd: (error: CriError | undefined) => void,
  ): ContainerEventWatch {
    // A long-lived stream: no deadline; it ends when the runtime goes away or cancel() is called.
    const call = this.client.makeServerStreamRequest(
      SERVICE_PATH + 'GetContainerEvents',
      asBytes,
      decodeContainerEventResponse,
      encodeGetEventsRequest(),
      new grpc.Metadata(),
    );
    let ended = false;
    let cancelled = false;
    const finish = (error: CriError | undefined): void => {
      if (ended) return;
      ended = true;
      onEnd(cancelled ? undefined : error);
    };
    call.on('data', (event: ContainerEvent) => {
      onEvent(event);
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

  reconnect(): void {
    const old = this.client;
    this.client = this.dial();
    old.close();
  }

  close(): void {
    this.client.close();
  }
}
