/** gRPC status codes (wire facts of the gRPC protocol; the names are the spec's). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const GRPC_STATUS_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(GrpcStatus).map(([name, code]) => [code, name]),
);

/** `NOT_FOUND` for 5; the number itself for codes the spec does not name. */
export function grpcStatusName(code: number): string {
  return GRPC_STATUS_NAMES.get(code) ?? String(code);
}

/**
 * A call that ended with a non-OK gRPC status, as the transport reports it (`code` and `details` are what
 * {@link toCriError} reads).
 */
export class GrpcStatusError extends Error {
  override readonly name = 'GrpcStatusError';
  constructor(
    readonly code: number,
    readonly details: string,
    options?: { cause?: unknown },
  ) {
    super(`${grpcStatusName(code)}: ${details}`, options);
  }
}

/** Base class of every failure of a CRI call. `transient` failures are retried with backoff. */
export class CriError extends Error {
  override readonly name: string = 'CriError';
  constructor(
    message: string,
    /** The CRI method, e.g. `ListPodSandbox`. */
    readonly method: string,
    /** The gRPC status code, when the failure came from gRPC. */
    readonly code: number | undefined,
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The runtime cannot be reached or did not answer in time (socket gone, runtime restarting): retry later. */
export class CriUnavailableError extends CriError {
  override readonly name = 'CriUnavailableError';
  constructor(message: string, method: string, code: number | undefined, options?: { cause?: unknown }) {
    super(message, method, code, true, options);
  }
}

/** The runtime does not implement the method (e.g. `GetContainerEvents` in containerd 1.6). */
export class CriUnimplementedError extends CriError {
  override readonly name = 'CriUnimplementedError';
  constructor(message: string, method: string, options?: { cause?: unknown }) {
    super(message, method, GrpcStatus.UNIMPLEMENTED, false, options);
  }
}

/** The object asked for does not exist (e.g. a sandbox removed between list and status). */
export class CriNotFoundError extends CriError {
  override readonly name = 'CriNotFoundError';
  constructor(message: string, method: string, options?: { cause?: unknown }) {
    super(message, method, GrpcStatus.NOT_FOUND, false, options);
  }
}

/** Any other failure the runtime reported; not retried faster than the normal interval. */
export class CriCallError extends CriError {
  override readonly name = 'CriCallError';
  constructor(message: string, method: string, code: number | undefined, options?: { cause?: unknown }) {
    super(message, method, code, false, options);
  }
}

/** No runtime endpoint could be determined, or the one given is not usable. */
export class RuntimeEndpointError extends Error {
  override readonly name = 'RuntimeEndpointError';
  constructor(
    message: string,
    /** Socket paths that were looked for, in order. */
    readonly tried: readonly string[] = [],
  ) {
    super(message);
  }
}

const TRANSIENT_CODES: ReadonlySet<number> = new Set<number>([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.CANCELLED,
  GrpcStatus.RESOURCE_EXHAUSTED,
  GrpcStatus.ABORTED,
]);

interface GrpcLikeError {
  code?: unknown;
  details?: unknown;
  message?: unknown;
}

/** Turns a gRPC failure into the matching typed {@link CriError}. */
export function toCriError(method: string, error: unknown, endpoint: string): CriError {
  if (error instanceof CriError) return error;
  const grpcError = (typeof error === 'object' && error !== null ? error : {}) as GrpcLikeError;
  const code = typeof grpcError.code === 'number' ? grpcError.code : undefined;
  const details =
    typeof grpcError.details === 'string' && grpcError.details !== ''
      ? grpcError.details
      : typeof grpcError.message === 'string'
        ? grpcError.message
        : String(error);
  const codeName = code === undefined ? 'no status' : grpcStatusName(code);
  const message = `CRI ${method} on ${endpoint} failed (${codeName}): ${details}`;
  if (code === GrpcStatus.UNIMPLEMENTED) return new CriUnimplementedError(message, method, { cause: error });
  if (code === GrpcStatus.NOT_FOUND) return new CriNotFoundError(message, method, { cause: error });
  if (code === undefined || TRANSIENT_CODES.has(code)) {
    return new CriUnavailableError(message, method, code, { cause: error });
  }
  return new CriCallError(message, method, code, { cause: error });
}
