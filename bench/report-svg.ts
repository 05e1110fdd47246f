/**
 * The inline SVG charts of bench/report.html, drawn by hand (no chart library): grouped bars
 * (linear or log scale, an optional reference line) and lines over a log2 x axis.
 */

export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#9c755f',
];

const W = 760;
const H = 380;
const M = { top: 30, right: 20, bottom: 130, left: 70 };

export function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

const fmt = (v: number) =>
  v === 0 ? '0' : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toPrecision(2);

/** Nice tick values for [0, max]. */
function linearTicks(max: number): number[] {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => max / s <= 6) ?? 10 * mag;
  const out: number[] = [];
  for (let v = 0; v <= max + step / 2; v += step) out.push(v);
  return out;
}

function legend(series: string[], y: number): string {
  return series
    .map((s, i) => {
      const x = M.left + i * 170;
      return `<rect x="${x}" y="${y}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/><text x="${x + 16}" y="${y + 11}" font-size="12">${escapeXml(s)}</text>`;
    })
    .join('');
}

export interface BarGroup {
  label: string;
  /** One value per series (undefined: no bar). */
  values: (number | undefined)[];
}

export interface BarChart {
  title: string;
  unit: string;
  series: string[];
  groups: BarGroup[];
  log?: boolean;
  /** A dashed horizontal line (e.g. 1.0 for ratios). */
  reference?: number;
}

/** Grouped vertical bars. */
export function barChart(c: BarChart): string {
  const all = c.groups.flatMap((g) => g.values.filter((v): v is number => v !== undefined && v > 0));
  const maxV = Math.max(...all, c.reference ?? 0, 1e-9);
  const minV = Math.min(...all, c.reference ?? maxV);
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  let y: (v: number) => number;
  let ticks: number[];
  if (c.log) {
    // A decade below the smallest bar, so that it still shows.
    const lo = 10 ** (Math.ceil(Math.log10(minV)) - 1);
    const hi = 10 ** Math.ceil(Math.log10(maxV));
    y = (v) =>
      M.top +
      plotH -
      ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1)) * plotH;
    ticks = [];
    for (let t = lo; t <= hi * 1.001; t *= 10) ticks.push(t);
  } else {
    ticks = linearTicks(maxV);
    const top = ticks[ticks.length - 1]!;
    y = (v) => M.top + plotH - (v / top) * plotH;
  }
  const base = M.top + plotH;
  const groupW = plotW / Math.max(c.groups.length, 1);
  const barW = Math.max(2, (groupW * 0.8) / Math.max(c.series.length, 1));
  const parts: string[] = [];
  parts.push(
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(c.title)}</text>`,
  );
  for (const t of ticks) {
    parts.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/><text x="${M.left - 6}" y="${y(t) + 4}" text-anchor="end" font-size="11">${fmt(t)}</text>`,
    );
  }
  parts.push(
    `<text transform="translate(16 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(c.unit)}</text>`,
  );
  c.groups.forEach((g, gi) => {
    const gx = M.left + gi * groupW + groupW * 0.1;
    g.values.forEach((v, si) => {
      if (v === undefined) return;
      const top = c.log ? y(v) : y(Math.max(v, 0));
      parts.push(
        `<rect x="${(gx + si * barW).toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${Math.max(0, base - top).toFixed(1)}" fill="${PALETTE[si % PALETTE.length]}"><title>${escapeXml(`${g.label} — ${c.series[si]}: ${fmt(v)} ${c.unit}`)}</title></rect>`,
      );
    });
    parts.push(
      `<text transform="translate(${(gx + groupW * 0.4).toFixed(1)} ${base + 12}) rotate(35)" font-size="11">${escapeXml(g.label)}</text>`,
    );
  });
  if (c.reference !== undefined)
    parts.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${y(c.reference)}" y2="${y(c.reference)}" stroke="#333" stroke-dasharray="5 4"/>`,
    );
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${base}" y2="${base}" stroke="#333"/>`);
  parts.push(legend(c.series, H - 16));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeXml(c.title)}">${parts.join('')}</svg>`;
}

export interface LineSeries {
  name: string;
  points: { x: number; y: number }[];
}

export interface LineChart {
  title: string;
  xUnit: string;
  yUnit: string;
  series: LineSeries[];
  /** Label of an x value (e.g. bytes as "64k"). */
  xLabel: (x: number) => string;
}

/** Lines over a log2 x axis (transfer sizes) and a linear y axis from 0. */
export function lineChart(c: LineChart): string {
  const xs = [...new Set(c.series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  const maxY = Math.max(...c.series.flatMap((s) => s.points.map((p) => p.y)), 1e-9);
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const lx0 = Math.log2(xs[0] ?? 1);
  const lx1 = Math.log2(xs[xs.length - 1] ?? 2);
  const x = (v: number) => M.left + ((Math.log2(v) - lx0) / (lx1 - lx0 || 1)) * plotW;
  const ticks = linearTicks(maxY);
  const top = ticks[ticks.length - 1]!;
  const y = (v: number) => M.top + plotH - (v / top) * plotH;
  const parts: string[] = [];
  parts.push(
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(c.title)}</text>`,
  );
  for (const t of ticks)
    parts.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/><text x="${M.left - 6}" y="${y(t) + 4}" text-anchor="end" font-size="11">${fmt(t)}</text>`,
    );
  for (const v of xs)
    parts.push(
      `<text x="${x(v)}" y="${M.top + plotH + 16}" text-anchor="middle" font-size="11">${escapeXml(c.xLabel(v))}</text>`,
    );
  parts.push(
    `<text x="${M.left + plotW / 2}" y="${M.top + plotH + 34}" text-anchor="middle" font-size="12">${escapeXml(c.xUnit)}</text>`,
    `<text transform="translate(16 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(c.yUnit)}</text>`,
  );
  c.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ')}"/>`,
    );
    for (const p of pts)
      parts.push(
        `<circle cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="3" fill="${color}"><title>${escapeXml(`${s.name} ${c.xLabel(p.x)}: ${fmt(p.y)} ${c.yUnit}`)}</title></circle>`,
      );
  });
  parts.push(
    `<line x1="${M.left}" x2="${W - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}" stroke="#333"/>`,
  );
  parts.push(
    legend(
      c.series.map((s) => s.name),
      H - 16,
    ),
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeXml(c.title)}">${parts.join('')}</svg>`;
}
