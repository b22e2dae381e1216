import type { Suite } from './common/suite.js';
import { runCriSuite } from './cri/suite.js';
import { runFreshnessSuite } from './freshness/suite.js';
import { runMonitorSuite } from './monitor/suite.js';
import { runReverseSuite } from './reverse/suite.js';
import { runZoneSuite } from './zone/suite.js';

/** Every suite, in the order `npm run bench` runs them. */
export const SUITES = {
  zone: runZoneSuite,
  monitor: runMonitorSuite,
  cri: runCriSuite,
  freshness: runFreshnessSuite,
  reverse: runReverseSuite,
} satisfies Record<string, Suite<unknown>>;

export type SuiteName = keyof typeof SUITES;

export function isSuiteName(name: string): name is SuiteName {
  return Object.hasOwn(SUITES, name);
}
