export type RenderMode = 'render' | 'reconciler';

/** The JSON line render-child.js prints. */
export interface RenderChildResult {
  readonly count: number;
  readonly mode: RenderMode;
  readonly records: number;
  readonly elapsedMs: number;
  readonly rssBefore: number;
  readonly peakRss: number;
  readonly growthBytes: number;
  readonly file: string;
}
