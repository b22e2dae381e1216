export * from './processes.js';
export * from './dig.js';
export * from './dns-tools.js';
export * from './named.js';
export * from './fake-apiserver.js';
export * from './netns.js';
export * from './pause-image.js';
export * from './containerd.js';
