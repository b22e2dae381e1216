import type { BenchSize } from './settings.js';

/** What a suite hands back: its section of results.json, and the charts to write next to the report. */
export interface SuiteOutcome<Section> {
  readonly section: Section;
  /** File name (in the report directory) → SVG text. */
  readonly charts: Readonly<Record<string, string>>;
}

export interface SuiteContext {
  readonly size: BenchSize;
}

export type Suite<Section> = (context: SuiteContext) => Promise<SuiteOutcome<Section>>;
