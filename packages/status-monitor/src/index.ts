export * from './vmi-records.js';
export * from './vmi-documents.js';
export * from './kubernetes-source.js';
export * from './directory-source.js';
export * from './monitor-source.js';
