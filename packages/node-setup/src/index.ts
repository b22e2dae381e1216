export * from './errors.js';
export * from './options.js';
export * from './dns-redirect-plan.js';
export * from './cni-plan.js';
export * from './resolver-plan.js';
export * from './apply.js';
export * from './run.js';
export { parseAddress, parseCidr } from './ip.js';
export * from './bridge-plan.js';
