// zonewright benchmarks. `npm run bench` builds, runs every suite and writes bench/report/.
// Suites measure side by side in one run (ratios), because this machine is shared and noisy.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const reportDir = path.join(here, 'report');
mkdirSync(reportDir, { recursive: true });
const only = process.argv.slice(2);
const wanted = (suite) => only.length === 0 || only.includes(suite);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function timeCommand(command, args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}${result.stdout}`);
  return elapsedMs;
}

function machine() {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`;
}

function svgChart({ title, xLabel, yLabel, series }) {
  const width = 640,
    height = 360,
    left = 70,
    right = 20,
    top = 40,
    bottom = 50;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMin = Math.min(...xs),
    xMax = Math.max(...xs);
  const yMax = Math.max(...ys) * 1.1;
  const lx = (x) => Math.log10(x);
  const px = (x) => left + ((lx(x) - lx(xMin)) / (lx(xMax) - lx(xMin))) * (width - left - right);
  const py = (y) => height - bottom - (y / yMax) * (height - top - bottom);
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">\n`;
  svg += `<rect width="100%" height="100%" fill="white"/>\n<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${title}</text>\n`;
  svg += `<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="black"/>\n`;
  svg += `<line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="black"/>\n`;
  for (const x of [...new Set(xs)]) {
    svg += `<text x="${px(x)}" y="${height - bottom + 16}" text-anchor="middle">${x >= 1000 ? `${x / 1000}k` : x}</text>\n`;
  }
  for (let i = 0; i <= 4; i += 1) {
    const y = (yMax / 4) * i;
    svg += `<line x1="${left - 4}" y1="${py(y)}" x2="${width - right}" y2="${py(y)}" stroke="#ddd"/><text x="${left - 8}" y="${py(y) + 4}" text-anchor="end">${y.toFixed(y < 10 ? 1 : 0)}</text>\n`;
  }
  svg += `<text x="${width / 2}" y="${height - 12}" text-anchor="middle">${xLabel}</text>\n`;
  svg += `<text transform="translate(16 ${height / 2}) rotate(-90)" text-anchor="middle">${yLabel}</text>\n`;
  series.forEach((s, index) => {
    const color = colors[index % colors.length];
    svg += `<polyline fill="none" stroke="${color}" stroke-width="2" points="${s.points.map((p) => `${px(p[0])},${py(p[1])}`).join(' ')}"/>\n`;
    for (const p of s.points) svg += `<circle cx="${px(p[0])}" cy="${py(p[1])}" r="3" fill="${color}"/>\n`;
    svg += `<rect x="${left + 10}" y="${top + index * 18}" width="12" height="12" fill="${color}"/><text x="${left + 28}" y="${top + index * 18 + 10}">${s.name}</text>\n`;
  });
  return `${svg}</svg>\n`;
}

const results = existsSync(path.join(reportDir, 'results.json'))
  ? JSON.parse(readFileSync(path.join(reportDir, 'results.json'), 'utf8'))
  : {};

if (wanted('zone')) {
  const sizes = [1000, 10000, 100000, 200000];
  const repeats = Number(process.env.ZW_BENCH_REPEATS ?? 3);
  const rows = [];
  for (const count of sizes) {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'zw-bench-zone-'));
    try {
      const ours = [];
      const flushes = [];
      const checkzone = [];
      const miekg = [];
      const growth = [];
      const flushGrowth = [];
      let file, bytes, records;
      // Alternate our run and the references so load changes hit both alike.
      for (let run = 0; run < repeats; run += 1) {
        const measure = (mode) => {
          rmSync(path.join(directory, 'db.vm.example.com'), { force: true });
          const child = spawnSync(
            process.execPath,
            ['--expose-gc', path.join(here, 'zone-render-child.mjs'), String(count), directory, mode],
            { encoding: 'utf8', cwd: root },
          );
          if (child.status !== 0) throw new Error(`zone bench child failed: ${child.stderr}`);
          return JSON.parse(child.stdout.trim().split('\n').pop());
        };
        const flush = measure('reconciler');
        flushes.push(flush.elapsedMs);
        flushGrowth.push(flush.growthBytes);
        const measured = measure('render');
        ours.push(measured.elapsedMs);
        growth.push(measured.growthBytes);
        file = measured.file;
        records = measured.records;
        bytes = statSync(file).size;
        checkzone.push(
          timeCommand('named-checkzone', ['-q', '-i', 'none', '-k', 'ignore', 'vm.example.com', file]),
        );
        miekg.push(
          timeCommand(path.join(root, 'tools/zonecheck/zonecheck'), ['-origin', 'vm.example.com', file]),
        );
      }
      const row = {
        records: count,
        zoneRecords: records,
        bytes,
        renderWriteMs: median(ours),
        renderWriteRuns: ours.map((x) => Math.round(x)),
        namedCheckzoneMs: median(checkzone),
        miekgParseMs: median(miekg),
        ratioToNamedCheckzone: median(ours) / median(checkzone),
        memoryGrowthMB: median(growth) / 2 ** 20,
        reconcilerFlushMs: median(flushes),
        reconcilerFlushRuns: flushes.map((x) => Math.round(x)),
        reconcilerGrowthMB: median(flushGrowth) / 2 ** 20,
      };
      rows.push(row);
      console.log(
        `zone ${count}: render+write ${row.renderWriteMs.toFixed(0)} ms, reconciler flush ${row.reconcilerFlushMs.toFixed(0)} ms (named-checkzone ${row.namedCheckzoneMs.toFixed(0)} ms, ratio ${row.ratioToNamedCheckzone.toFixed(2)}), +${row.memoryGrowthMB.toFixed(0)} MB`,
      );
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }
  results.zone = { machine: machine(), date: new Date().toISOString(), repeats, rows };
  writeFileSync(
    path.join(reportDir, 'zone-render.svg'),
    svgChart({
      title: 'Zone render + atomic write vs named-checkzone parse (median)',
      xLabel: 'records (log scale)',
      yLabel: 'milliseconds',
      series: [
        {
          name: 'zonewright render + validate + write',
          points: rows.map((r) => [r.records, r.renderWriteMs]),
        },
        {
          name: 'zonewright reconciler flush (+ claims)',
          points: rows.map((r) => [r.records, r.reconcilerFlushMs]),
        },
        { name: 'named-checkzone parse', points: rows.map((r) => [r.records, r.namedCheckzoneMs]) },
        { name: 'miekg/dns parse (CoreDNS)', points: rows.map((r) => [r.records, r.miekgParseMs]) },
      ],
    }),
  );
}

for (const suite of ['monitor', 'cri']) {
  const script = path.join(here, `${suite}.mjs`);
  if (!wanted(suite) || !existsSync(script)) continue;
  const child = spawnSync(process.execPath, ['--expose-gc', script], {
    encoding: 'utf8',
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (child.status !== 0) throw new Error(`bench suite ${suite} failed`);
  results[suite] = JSON.parse(child.stdout.trim().split('\n').pop());
  console.log(`${suite}: done`);
}

writeFileSync(path.join(reportDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
const { renderReport } = await import('./report.mjs');
writeFileSync(path.join(reportDir, 'README.md'), renderReport(results));
console.log(`report written to ${path.relative(root, path.join(reportDir, 'README.md'))}`);
