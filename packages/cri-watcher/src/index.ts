export * from './errors.js';
export * from './endpoint.js';
export * from './cri-client.js';
export { hostnameFromVerboseInfo } from './cri-messages.js';
export type {
  ContainerEvent,
  ContainerEventType,
  NamespaceMode,
  PodSandboxDetails,
  PodSandboxSummary,
  RunPodSandboxInput,
  RuntimeVersion,
  SandboxMetadata,
  SandboxState,
} from './cri-messages.js';
export * from './sandbox-records.js';
export * from './socket-watch.js';
export * from './poller.js';
