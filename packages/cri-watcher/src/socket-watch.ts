import { dirname } from 'node:path';
import { watch } from 'chokidar';

/** Watches a runtime socket path; `onAppear` runs whenever the socket file is (re)created. */
export interface SocketWatch {
  close(): Promise<void>;
}

export type SocketWatchFactory = (socketPath: string, onAppear: () => void) => Promise<SocketWatch>;

/**
 * Watches the socket's directory with chokidar (a socket cannot be watched directly once it is unlinked) and
 * reports every `add` of the socket path. Resolves once the watch is established.
 */
export const chokidarSocketWatch: SocketWatchFactory = async (socketPath, onAppear) => {
  const directory = dirname(socketPath);
  const watcher = watch(directory, {
    ignoreInitial: true,
    depth: 0,
    ignored: (path: string) => path !== directory && path !== socketPath,
  });
  watcher.on('add', (path: string) => {
    if (path === socketPath) onAppear();
  });
  await new Promise<void>((resolve, reject) => {
    watcher.once('ready', () => {
      resolve();
    });
    watcher.once('error', (error: unknown) => {
      reject(error instanceof Error ? error : new Error(String(error)));
    });
  });
  return {
    close: () => watcher.close(),
  };
};
