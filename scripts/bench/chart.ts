/**
 * A dependency-free SVG line chart: throughput against concurrency, one
 * line per series (log2 x axis), peers as labelled horizontal lines.
 */

export interface Series {
  label: string;
  points: Array<{ x: number; y: number }>;
  dashed?: boolean;
}

export interface Level {
  label: string;
  y: number;
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  /** The x values with a tick (e.g. the concurrencies). */
  xTicks: number[];
  series: Series[];
  levels: Level[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const LEVEL_COLORS = ['#555555', '#b8860b', '#008b8b', '#c71585', '#6b8e23', '#4682b4'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A "nice" step for about `n` grid lines up to `max`. */
function niceStep(max: number, n: number): number {
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

export function lineChart(spec: ChartSpec): string {
  const W = 880;
  const H = 500;
  const m = { left: 70, right: 250, top: spec.subtitle ? 62 : 44, bottom: 56 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const ys = [...spec.series.flatMap((s) => s.points.map((p) => p.y)), ...spec.levels.map((l) => l.y)].filter(Number.isFinite);
  const yMax0 = Math.max(1, ...ys) * 1.08;
  const step = niceStep(yMax0, 6);
  const yMax = Math.ceil(yMax0 / step) * step;
  const lx = spec.xTicks.map((x) => Math.log2(x));
  const xMin = Math.min(...lx);
  const xMax = Math.max(...lx);
  const X = (x: number) => m.left + (xMax === xMin ? pw / 2 : ((Math.log2(x) - xMin) / (xMax - xMin)) * pw);
  const Y = (y: number) => m.top + ph - (y / yMax) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${m.left}" y="22" font-size="16" font-weight="bold">${esc(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text x="${m.left}" y="42" fill="#555">${esc(spec.subtitle)}</text>`);
  // grid and axes
  for (let y = 0; y <= yMax + 1e-9; y += step) {
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${Y(y).toFixed(1)}" y2="${Y(y).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${(Y(y) + 4).toFixed(1)}" text-anchor="end">${Math.round(y)}</text>`);
  }
  for (const x of spec.xTicks) {
    out.push(`<line x1="${X(x).toFixed(1)}" x2="${X(x).toFixed(1)}" y1="${m.top}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${X(x).toFixed(1)}" y="${m.top + ph + 18}" text-anchor="middle">${x}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 14}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`);
  // legend entries: [color, dashed, label]
  const legend: Array<[string, string | null, string, boolean]> = [];
  spec.levels.forEach((l, i) => {
    const c = LEVEL_COLORS[i % LEVEL_COLORS.length];
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${Y(l.y).toFixed(1)}" y2="${Y(l.y).toFixed(1)}" stroke="${c}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    legend.push([c, '6 4', `${l.label}: ${Math.round(l.y)}`, false]);
  });
  spec.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    const dash = s.dashed ? ' stroke-dasharray="2 3"' : '';
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2.2"${dash} points="${pts.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3.5" fill="${c}"/>`);
    legend.push([c, s.dashed ? '2 3' : null, s.label, true]);
  });
  const lx0 = m.left + pw + 16;
  legend.forEach(([c, dash, label, dot], i) => {
    const y = m.top + 10 + i * 20;
    out.push(`<line x1="${lx0}" x2="${lx0 + 26}" y1="${y}" y2="${y}" stroke="${c}" stroke-width="2.2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    if (dot) out.push(`<circle cx="${lx0 + 13}" cy="${y}" r="3.5" fill="${c}"/>`);
    out.push(`<text x="${lx0 + 34}" y="${y + 4}">${esc(label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
