/**
 * The picture of a bench/dns run, as one self-contained SVG: CPU per query per server (bars,
 * local and mixed), and latency CDFs at the fixed rate (local mix; and, when measured, the real
 * daemon quiet and while its API is kept busy). Plain strings: no dependency.
 */

export interface CpuBar {
  server: string;
  local: number;
  mixed: number;
}

export interface Cdf {
  label: string;
  /** Latencies in ms, sorted ascending. */
  sorted: number[];
  dashed?: boolean;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#17becf', '#bcbd22'];
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function bars(x0: number, y0: number, width: number, rows: CpuBar[]): string {
  const out: string[] = [];
  const max = Math.max(...rows.flatMap((r) => [r.local, r.mixed]).filter(Number.isFinite), 1);
  const label = 110;
  const plot = width - label - 50;
  const rowHeight = 30;
  out.push(`<text x="${x0}" y="${y0 - 12}" font-weight="bold">Server CPU per query (µs), unthrottled, median of rounds</text>`);
  rows.forEach((r, i) => {
    const y = y0 + i * rowHeight;
    out.push(`<text x="${x0 + label - 6}" y="${y + 14}" text-anchor="end">${esc(r.server)}</text>`);
    for (const [k, value, color] of [[0, r.local, '#1f77b4'], [1, r.mixed, '#ff7f0e']] as const) {
      if (!Number.isFinite(value)) continue;
      const w = (value / max) * plot;
      out.push(`<rect x="${x0 + label}" y="${y + k * 12}" width="${w.toFixed(1)}" height="11" fill="${color}"/>`);
      out.push(`<text x="${x0 + label + w + 4}" y="${y + k * 12 + 10}" font-size="10">${value.toFixed(1)}</text>`);
    }
  });
  const ly = y0 + rows.length * rowHeight + 6;
  out.push(`<rect x="${x0 + label}" y="${ly}" width="10" height="10" fill="#1f77b4"/><text x="${x0 + label + 14}" y="${ly + 9}" font-size="11">local</text>`);
  out.push(`<rect x="${x0 + label + 60}" y="${ly}" width="10" height="10" fill="#ff7f0e"/><text x="${x0 + label + 74}" y="${ly + 9}" font-size="11">mixed (10 % forwarded)</text>`);
  return out.join('\n');
}

function cdf(x0: number, y0: number, width: number, height: number, title: string, curves: Cdf[]): string {
  const out: string[] = [];
  // Up to the slowest p99.9 (a loaded machine's tail reaches hundreds of ms), at least 10 ms.
  const slowest = Math.max(10, ...curves.map((c) => c.sorted[Math.floor(c.sorted.length * 0.999)] ?? 0));
  const lo = Math.log10(0.005);
  const hi = Math.ceil(Math.log10(slowest));
  const px = (ms: number): number => x0 + ((Math.log10(Math.min(Math.max(ms, 0.005), 10 ** hi)) - lo) / (hi - lo)) * width;
  // The tail spread out: p50, p90, p99 and p99.9 equally spaced (−log10 of the fraction above).
  const TAIL = 3;
  const py = (f: number): number => y0 + height - (Math.min(TAIL, -Math.log10(Math.max(1 - f, 1e-9))) / TAIL) * height;
  out.push(`<text x="${x0}" y="${y0 - 12}" font-weight="bold">${esc(title)}</text>`);
  out.push(`<rect x="${x0}" y="${y0}" width="${width}" height="${height}" fill="none" stroke="#999"/>`);
  for (const ms of [0.01, 0.1, 1, 10, 100, 1000, 10000].filter((m) => Math.log10(m) <= hi)) {
    out.push(`<line x1="${px(ms)}" y1="${y0}" x2="${px(ms)}" y2="${y0 + height}" stroke="#ddd"/>`);
    out.push(`<text x="${px(ms)}" y="${y0 + height + 14}" text-anchor="middle" font-size="10">${ms} ms</text>`);
  }
  for (const [f, label] of [[0.5, 'p50'], [0.9, 'p90'], [0.99, 'p99'], [0.999, 'p99.9']] as const) {
    out.push(`<line x1="${x0}" y1="${py(f)}" x2="${x0 + width}" y2="${py(f)}" stroke="#eee"/>`);
    out.push(`<text x="${x0 - 4}" y="${py(f) + 3}" text-anchor="end" font-size="10">${label}</text>`);
  }
  curves.forEach((c, i) => {
    const color = COLORS[i % COLORS.length]!;
    const n = c.sorted.length;
    if (n === 0) return;
    const points: string[] = [];
    // 400 points spaced as the y axis is: as many in the tail as in the body.
    for (let k = 0; k <= 400; k++) {
      const f = 1 - 10 ** (-(k / 400) * TAIL);
      const ms = c.sorted[Math.min(n - 1, Math.floor(f * n))]!;
      points.push(`${px(ms).toFixed(1)},${py(f).toFixed(1)}`);
    }
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.6"${c.dashed ? ' stroke-dasharray="5,3"' : ''} points="${points.join(' ')}"/>`);
    const ly = y0 + 14 + i * 14;
    out.push(`<line x1="${x0 + width + 10}" y1="${ly - 4}" x2="${x0 + width + 30}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${c.dashed ? ' stroke-dasharray="5,3"' : ''}/>`);
    out.push(`<text x="${x0 + width + 34}" y="${ly}" font-size="11">${esc(c.label)}</text>`);
  });
  return out.join('\n');
}

/** The whole picture. `busy` curves are drawn in a third panel when present. */
export function benchSvg(caption: string, cpu: CpuBar[], latency: Cdf[], rate: number, busy: Cdf[]): string {
  const width = 1000;
  const barsHeight = 60 + cpu.length * 30 + 30;
  const panel = 260;
  const height = barsHeight + (panel + 70) * (busy.length > 0 ? 2 : 1) + 30;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="20" y="22" font-size="13">${esc(caption)}</text>`,
    bars(20, 60, 600, cpu),
    cdf(60, barsHeight + 30, 640, panel, `Latency CDF at ${rate} QPS, local mix (log x; y spread out towards the tail)`, latency),
  ];
  if (busy.length > 0) {
    parts.push(cdf(60, barsHeight + 30 + panel + 70, 640, panel, `The real daemon at ${rate} QPS (local mix): quiet vs API busy creating/removing sandboxes`, busy));
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
