import { RuntimeEndpointError } from './errors.js';

export type RuntimeKind = 'containerd' | 'k3s' | 'cri-o' | 'cri-dockerd';

/** The well-known CRI sockets, in the order they are tried when no endpoint is configured. */
export const DEFAULT_RUNTIME_SOCKETS: readonly { readonly runtime: RuntimeKind; readonly path: string }[] =
  Object.freeze([
    { runtime: 'containerd', path: '/run/containerd/containerd.sock' },
    { runtime: 'k3s', path: '/run/k3s/containerd/containerd.sock' },
    { runtime: 'cri-o', path: '/run/crio/crio.sock' },
    { runtime: 'cri-dockerd', path: '/var/run/cri-dockerd.sock' },
  ]);

export interface RuntimeEndpointInput {
  /** `--runtime-endpoint`: `unix:///path/to.sock` or an absolute socket path. */
  readonly runtimeEndpoint?: string | undefined;
  /** `CRI_DIR` (smarter-dns): the directory of the runtime socket; needs `criFile`. */
  readonly criDir?: string | undefined;
  /** `CRI_FILE` (smarter-dns): the socket's file name inside `criDir`. */
  readonly criFile?: string | undefined;
  /** Whether a path exists (used only for the default sockets). */
  readonly exists: (path: string) => boolean;
}

export interface ResolvedRuntimeEndpoint {
  /** gRPC target, always `unix:///absolute/path`. */
  readonly endpoint: string;
  /** Absolute path of the socket file. */
  readonly socketPath: string;
  /** Where the endpoint came from. */
  readonly from: 'flag' | 'env' | 'default';
  /** The runtime a default socket belongs to (only for `from: 'default'`). */
  readonly runtime?: RuntimeKind;
  /** Human-readable sentence for the start-up log, e.g. "found containerd socket /run/…". */
  readonly description: string;
  /** Socket paths looked for, in order (only the defaults are looked for). */
  readonly tried: readonly string[];
}

/** Parses `unix:///path`, `unix:/path` or `/path` into an absolute socket path. */
export function socketPathFromEndpoint(endpoint: string): string {
  const trimmed = endpoint.trim();
  let path: string;
  if (trimmed.startsWith('unix://')) path = trimmed.slice('unix://'.length);
  else if (trimmed.startsWith('unix:')) path = trimmed.slice('unix:'.length);
  else if (/^[a-z][a-z0-9+.-]*:/i.test(trimmed)) {
    throw new RuntimeEndpointError(
      `runtime endpoint "${endpoint}" is not supported: use unix:///path/to/runtime.sock or an absolute path`,
    );
  } else path = trimmed;
  if (!path.startsWith('/')) {
    throw new RuntimeEndpointError(
      `runtime endpoint "${endpoint}" must name an absolute socket path, e.g. unix:///run/containerd/containerd.sock`,
    );
  }
  if (path.includes('\0'))
    throw new RuntimeEndpointError(`runtime endpoint "${endpoint}" contains a NUL byte`);
  return path.replace(/\/{2,}/g, '/');
}

function resolved(
  socketPath: string,
  from: ResolvedRuntimeEndpoint['from'],
  description: string,
  tried: readonly string[],
  runtime?: RuntimeKind,
): ResolvedRuntimeEndpoint {
  return Object.freeze({
    endpoint: `unix://${socketPath}`,
    socketPath,
    from,
    description,
    tried: Object.freeze([...tried]),
    ...(runtime === undefined ? {} : { runtime }),
  });
}

/**
 * Picks the CRI endpoint: `--runtime-endpoint`, else `CRI_DIR` + `CRI_FILE`, else the first of
 * {@link DEFAULT_RUNTIME_SOCKETS} that exists. Throws {@link RuntimeEndpointError} naming what was tried.
 */
export function resolveRuntimeEndpoint(input: RuntimeEndpointInput): ResolvedRuntimeEndpoint {
  const flag = input.runtimeEndpoint?.trim();
  if (flag !== undefined && flag !== '') {
    const socketPath = socketPathFromEndpoint(flag);
    return resolved(socketPath, 'flag', `using runtime endpoint ${socketPath} from --runtime-endpoint`, []);
  }
  const dir = input.criDir?.trim() ?? '';
  const file = input.criFile?.trim() ?? '';
  if (dir !== '' || file !== '') {
    if (dir === '' || file === '') {
      throw new RuntimeEndpointError(
        `CRI_DIR and CRI_FILE must be set together (got CRI_DIR=${JSON.stringify(dir)}, CRI_FILE=${JSON.stringify(file)})`,
      );
    }
    if (file.includes('/')) {
      throw new RuntimeEndpointError(`CRI_FILE must be a file name without "/", got ${JSON.stringify(file)}`);
    }
    const socketPath = socketPathFromEndpoint(`${dir.replace(/\/+$/, '')}/${file}`);
    return resolved(socketPath, 'env', `using runtime endpoint ${socketPath} from CRI_DIR and CRI_FILE`, []);
  }
  const tried: string[] = [];
  for (const candidate of DEFAULT_RUNTIME_SOCKETS) {
    tried.push(candidate.path);
    if (input.exists(candidate.path)) {
      return resolved(
        candidate.path,
        'default',
        `found ${candidate.runtime} socket ${candidate.path}`,
        tried,
        candidate.runtime,
      );
    }
  }
  throw new RuntimeEndpointError(
    `no container runtime socket found (tried ${tried.join(', ')}); set --runtime-endpoint or CRI_DIR and CRI_FILE`,
    tried,
  );
}
