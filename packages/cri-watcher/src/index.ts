export * from './errors.js';
export * from './endpoint.js';
export * from './cri-client.js';
export * from './sandbox-records.js';
export * from './socket-watch.js';
export * from './poller.js';
