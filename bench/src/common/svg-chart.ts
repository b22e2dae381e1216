export interface ChartSeries {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface LineChart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** `log` (the zone sizes) or `linear`; default log. */
  readonly xScale?: 'log' | 'linear';
  /** Labels of the x ticks; default every distinct x, `1k` style above 1,000. */
  readonly xTicks?: readonly number[];
  readonly series: readonly ChartSeries[];
}

const WIDTH = 640;
const HEIGHT = 360;
const MARGIN = { left: 70, right: 20, top: 40, bottom: 50 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function tickLabel(x: number): string {
  return x >= 1000 ? `${x / 1000}k` : String(x);
}

/** A small self-contained SVG line chart (no dependencies), as the report embeds it. */
export function svgLineChart(chart: LineChart): string {
  const xs = chart.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = chart.series.flatMap((s) => s.points.map((p) => p[1]));
  const log = (chart.xScale ?? 'log') === 'log';
  const fx = (x: number): number => (log ? Math.log10(x) : x);
  const xMin = fx(Math.min(...xs));
  const xSpan = fx(Math.max(...xs)) - xMin || 1;
  const yMax = Math.max(...ys) * 1.1 || 1;
  const px = (x: number): number =>
    MARGIN.left + ((fx(x) - xMin) / xSpan) * (WIDTH - MARGIN.left - MARGIN.right);
  const py = (y: number): number =>
    HEIGHT - MARGIN.bottom - (y / yMax) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(chart.title)}</text>`,
    `<line x1="${MARGIN.left}" y1="${HEIGHT - MARGIN.bottom}" x2="${WIDTH - MARGIN.right}" y2="${HEIGHT - MARGIN.bottom}" stroke="black"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${HEIGHT - MARGIN.bottom}" stroke="black"/>`,
  ];
  for (const x of chart.xTicks ?? [...new Set(xs)]) {
    parts.push(
      `<text x="${px(x)}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${tickLabel(x)}</text>`,
    );
  }
  for (let i = 0; i <= 4; i += 1) {
    const y = (yMax / 4) * i;
    parts.push(
      `<line x1="${MARGIN.left - 4}" y1="${py(y)}" x2="${WIDTH - MARGIN.right}" y2="${py(y)}" stroke="#ddd"/><text x="${MARGIN.left - 8}" y="${py(y) + 4}" text-anchor="end">${y.toFixed(y < 10 ? 1 : 0)}</text>`,
    );
  }
  parts.push(
    `<text x="${WIDTH / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
    `<text transform="translate(16 ${HEIGHT / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`,
  );
  chart.series.forEach((series, index) => {
    const color = COLORS[index % COLORS.length] ?? 'black';
    const points = series.points.map((p) => `${px(p[0])},${py(p[1])}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points}"/>`);
    for (const p of series.points)
      parts.push(`<circle cx="${px(p[0])}" cy="${py(p[1])}" r="3" fill="${color}"/>`);
    parts.push(
      `<rect x="${MARGIN.left + 10}" y="${MARGIN.top + index * 18}" width="12" height="12" fill="${color}"/><text x="${MARGIN.left + 28}" y="${MARGIN.top + index * 18 + 10}">${escapeXml(series.name)}</text>`,
    );
  });
  return `${parts.join('\n')}\n</svg>\n`;
}
