import { describe, expect, it } from '@jest/globals';
import {
  PrometheusTextError,
  histogramDelta,
  histogramOf,
  histogramQuantile,
  histogramShareWithin,
  parsePrometheusText,
  sampleValue,
} from './prometheus-text.js';

const scrape = (count: number, fast: number, sum: number): string =>
  [
    '# HELP zonewright_event_to_zone_seconds Event received to zone renamed.',
    '# TYPE zonewright_event_to_zone_seconds histogram',
    `zonewright_event_to_zone_seconds_bucket{le="0.1",origin="vm.example.com"} ${fast}`,
    `zonewright_event_to_zone_seconds_bucket{le="1",origin="vm.example.com"} ${count}`,
    `zonewright_event_to_zone_seconds_bucket{le="+Inf",origin="vm.example.com"} ${count}`,
    `zonewright_event_to_zone_seconds_sum{origin="vm.example.com"} ${sum}`,
    `zonewright_event_to_zone_seconds_count{origin="vm.example.com"} ${count}`,
    'zonewright_api_events_total{type="MODIFIED"} 7',
    'zonewright_api_events_total{type="ADDED"} 3',
    'zonewright_label_escapes{path="a\\"b\\\\c"} 1 1700000000000',
    'process_up 1',
    '',
  ].join('\n');

describe('parsePrometheusText', () => {
  it('reads samples with labels, escapes and timestamps, skipping comments', () => {
    const samples = parsePrometheusText(scrape(4, 1, 0.5));
    expect(sampleValue(samples, 'zonewright_api_events_total', { type: 'ADDED' })).toBe(3);
    expect(sampleValue(samples, 'zonewright_api_events_total')).toBe(7);
    expect(sampleValue(samples, 'zonewright_label_escapes')).toBe(1);
    expect(samples.find((s) => s.name === 'zonewright_label_escapes')?.labels.path).toBe('a"b\\c');
    expect(sampleValue(samples, 'process_up')).toBe(1);
    expect(sampleValue(samples, 'absent')).toBeUndefined();
  });

  it("reads NaN and Inf in any case, as Prometheus does (prom-client writes a NaN gauge as 'Nan')", () => {
    const samples = parsePrometheusText(
      ['lag_mean_seconds Nan', 'other NaN', 'big +Inf', 'small -inf', 'plain 2.5e-3'].join('\n'),
    );
    expect(sampleValue(samples, 'lag_mean_seconds')).toBeNaN();
    expect(sampleValue(samples, 'other')).toBeNaN();
    expect(sampleValue(samples, 'big')).toBe(Infinity);
    expect(sampleValue(samples, 'small')).toBe(-Infinity);
    expect(sampleValue(samples, 'plain')).toBe(0.0025);
    expect(() => parsePrometheusText('broken nanx')).toThrow(PrometheusTextError);
  });

  it('rejects a line that is not a sample, naming it', () => {
    expect(() => parsePrometheusText('this is not a metric line at all')).toThrow(PrometheusTextError);
    expect(() => parsePrometheusText('metric{le=0.1} 3')).toThrow(/metric\{le=0.1\} 3/);
  });
});

describe('histograms', () => {
  it('reads buckets in order, subtracts two scrapes and interpolates quantiles like Prometheus', () => {
    const before = histogramOf(parsePrometheusText(scrape(4, 1, 0.5)), 'zonewright_event_to_zone_seconds');
    const after = histogramOf(parsePrometheusText(scrape(14, 6, 3.5)), 'zonewright_event_to_zone_seconds', {
      origin: 'vm.example.com',
    });
    expect(after.buckets.map((b) => b.le)).toEqual([0.1, 1, Infinity]);
    const delta = histogramDelta(after, before);
    expect(delta).toEqual({
      buckets: [
        { le: 0.1, count: 5 },
        { le: 1, count: 10 },
        { le: Infinity, count: 10 },
      ],
      sum: 3,
      count: 10,
    });
    expect(histogramQuantile(delta, 0.5)).toBeCloseTo(0.1);
    expect(histogramQuantile(delta, 0.75)).toBeCloseTo(0.1 + 0.5 * 0.9);
    expect(histogramShareWithin(delta, 0.1)).toBe(0.5);
    expect(histogramQuantile(histogramDelta(before, before), 0.5)).toBeUndefined();
  });
});
