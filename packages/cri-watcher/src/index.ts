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
  RuntimeVersion,
  SandboxMetadata,
  SandboxState,
} from './cri-messages.js';
export * from './sandbox-records.js';
export * from './socket-watch.js';
export * from './poller.js';
// The wire codec, for testkit's sandbox calls (zonewright itself never creates sandboxes).
export { WireFormatError, WireReader, WireWriter } from './wire.js';
