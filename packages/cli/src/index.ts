export { buildCli, main } from './main.js';
export { runCheck } from './commands/check.js';
export { runInspect } from './commands/inspect.js';
export { ZoneMetrics } from './metrics.js';
export { startOpsServer, parseListen } from './ops-server.js';
export * from './config/command-options.js';
export * from './config/option-table.js';
export { markdownOptionTable, optionRows } from './config/option-docs.js';
