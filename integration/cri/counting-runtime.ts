import type {
  ContainerEvent,
  ContainerEventWatch,
  CriError,
  PodSandboxDetails,
  PodSandboxSummary,
  SandboxRuntime,
} from '@zonewright/cri-watcher';

/** Passes every call through to a real runtime client and counts them (to check the RPC budget). */
export class CountingRuntime implements SandboxRuntime {
  listCalls = 0;
  statusCalls = 0;
  reconnects = 0;
  constructor(private readonly inner: SandboxRuntime) {}
  get endpoint(): string {
    return this.inner.endpoint;
  }
  listPodSandboxes(): Promise<PodSandboxSummary[]> {
    this.listCalls += 1;
    return this.inner.listPodSandboxes();
  }
  podSandboxStatus(id: string, verbose: boolean): Promise<PodSandboxDetails> {
    this.statusCalls += 1;
    return this.inner.podSandboxStatus(id, verbose);
  }
  watchContainerEvents(
    onEvent: (event: ContainerEvent) => void,
    onEnd: (error: CriError | undefined) => void,
  ): ContainerEventWatch {
    return this.inner.watchContainerEvents(onEvent, onEnd);
  }
  reconnect(): void {
    this.reconnects += 1;
    this.inner.reconnect();
  }
  close(): void {
    this.inner.close();
  }
}
