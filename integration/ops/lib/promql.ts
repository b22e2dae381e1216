/**
 * Metric names in PromQL expressions and in Prometheus text exposition, for checking that the alerting rules
 * and the dashboard only use metrics that exist. Not a PromQL parser: promtool checks the syntax; this only
 * needs to find every selector's metric name, which it does by blanking out what cannot be one.
 */

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
]);

/** Grafana's variables replaced by values PromQL accepts, so panel queries read like plain PromQL. */
export function withoutGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__(rate_)?interval|\$\{__(rate_)?interval\}/g, '5m')
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, '.*');
}

/** The metric names an expression selects (sorted, unique). */
export function metricNames(expr: string): string[] {
  const blanked = withoutGrafanaVariables(expr)
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of blanked.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = match[0];
    const before = blanked[match.index - 1] ?? ' ';
    const after = blanked.slice(match.index + name.length).trimStart();
    if (/[0-9.]/.test(before)) continue; // the unit of a duration or an exponent
    if (after.startsWith('(')) continue; // a function or an aggregation
    if (KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names].sort();
}

/**
 * Every metric name a /metrics page declares or samples: `# TYPE` lines (with the _bucket, _sum and _count
 * series of histograms and summaries, which exist even before the first sample) and sample lines.
 */
export function exposedMetricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE ([A-Za-z_:][A-Za-z0-9_:]*) (\w+)/.exec(line);
    if (type !== null) {
      const [, name = '', kind] = type;
      names.add(name);
      if (kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
      if (kind === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
      continue;
    }
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)[{ ]/.exec(line);
    if (sample?.[1] !== undefined) names.add(sample[1]);
  }
  return names;
}
