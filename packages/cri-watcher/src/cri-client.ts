import { fileURLToPath } from 'node:url';
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
import { CriCallError, GrpcStatus, GrpcStatusError, toCriError, type CriError } from './errors.js';
import { socketPathFromEndpoint } from './endpoint.js';
import { GrpcUnixClient } from './grpc-transport.js';

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
  /**
   * Deadline of every unary call in ms (default 5000). There is no reconnect backoff option: a failed
   * connection is dialled again by the next call, and the {@link CriWatcher}'s poller spaces those out.
   */
  readonly timeoutMs?: number;
}

/**
 * A small CRI `RuntimeService` client over the runtime's unix socket (gRPC on `node:http2`, see
 * ./grpc-transport.ts). Every unary call has a deadline; every failure is a typed {@link CriError}
 * (`transient` ones are {@link CriUnavailableError}).
 */
export class CriClient implements SandboxRuntime {
  readonly endpoint: string;
  readonly socketPath: string;
  private readonly timeoutMs: number;
  private readonly transport: GrpcUnixClient;

  constructor(options: CriClientOptions) {
    this.socketPath = socketPathFromEndpoint(options.endpoint);
    this.endpoint = `unix://${this.socketPath}`;
    this.timeoutMs = options.timeoutMs ?? 5000;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new RangeError(`CRI call timeout must be a positive number of ms, got ${this.timeoutMs}`);
    }
    this.transport = new GrpcUnixClient(this.socketPath);
  }

  /** One unary call with the deadline, errors as {@link CriError} (for subclasses such as testkit's). */
  protected async unary<T>(name: string, request: Buffer, decode: (response: Buffer) => T): Promise<T> {
    let response: Buffer;
    try {
      response = await this.transport.unary(SERVICE_PATH + name, request, this.timeoutMs);
    } catch (error) {
      throw toCriError(name, error, this.endpoint);
    }
    try {
      return decode(response);
    } catch (error) {
      throw toCriError(name, undecodable(error), this.endpoint);
    }
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
      decodePodSandboxStatusResponse,
    );
    if (details === undefined) {
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
    return this.transport.serverStream(SERVICE_PATH + 'GetContainerEvents', encodeGetEventsRequest(), {
      onMessage: (message) => {
        let event: ContainerEvent;
        try {
          event = decodeContainerEventResponse(message);
        } catch (error) {
          throw undecodable(error);
        }
        onEvent(event);
      },
      onEnd: (error) => {
        onEnd(error === undefined ? undefined : toCriError('GetContainerEvents', error, this.endpoint));
      },
    });
  }

  reconnect(): void {
    this.transport.reconnect();
  }

  close(): void {
    this.transport.close();
  }
}

/** A response the codec refused, as gRPC clients report it: INTERNAL. */
function undecodable(error: unknown): GrpcStatusError {
  const reason = error instanceof Error ? error.message : String(error);
  return new GrpcStatusError(GrpcStatus.INTERNAL, `response could not be decoded: ${reason}`, {
    cause: error,
  });
}
