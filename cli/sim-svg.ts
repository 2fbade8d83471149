/**
 * `weftmesh sim --svg FILE`: one self-contained SVG with two plots of a run — convergence
 * over time (membership, and state replicas when the run wrote state; crashes and the
 * partition marked), and the distribution of failure-detection times over every live
 * observer of every crashed node.
 */
import type { ScenarioReport, Timeline } from '../lib/sim/scenario.ts';

const W = 900;
const PLOT = { left: 70, right: 30, width: W - 100 };
const COLORS = {
  membership: '#2f81f7',
  state: '#3fb950',
  suspect: '#d29922',
  unreachable: '#f85149',
  axis: '#8b949e',
  grid: '#30363d',
  text: '#c9d1d9',
};

interface Panel {
  top: number;
  height: number;
}

/** 1, 2 or 5 × 10^k: a step that puts about `count` ticks on [0, max]. */
function niceStep(max: number, count: number): number {
  const raw = Math.max(max, 1e-9) / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw)!;
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${s}</text>`;
}

/** Axes, grid and tick labels of a panel; returns the data → pixel mappings. */
/** Axes of a panel; `minYStep` 1 keeps count axes on whole numbers. */
function axes(
  p: Panel,
  xMax: number,
  yTop: number,
  xLabel: string,
  yFmt: (v: number) => string,
  minYStep = 0,
) {
  const ys = Math.max(minYStep, niceStep(yTop, 4));
  const yMax = Math.ceil(yTop / ys - 1e-9) * ys;
  const x = (v: number) => PLOT.left + (v / xMax) * PLOT.width;
  const y = (v: number) => p.top + p.height - (v / yMax) * p.height;
  const out: string[] = [];
  const xs = niceStep(xMax, 8);
  for (let v = 0; v <= xMax + 1e-9; v += xs) {
    out.push(
      `<line x1="${x(v)}" x2="${x(v)}" y1="${p.top}" y2="${p.top + p.height}" stroke="${COLORS.grid}"/>`,
    );
    out.push(text(x(v), p.top + p.height + 16, String(Math.round(v * 100) / 100), 'text-anchor="middle"'));
  }
  for (let v = 0; v <= yMax + 1e-9; v += ys) {
    out.push(
      `<line x1="${PLOT.left}" x2="${PLOT.left + PLOT.width}" y1="${y(v)}" y2="${y(v)}" stroke="${COLORS.grid}"/>`,
    );
    out.push(text(PLOT.left - 8, y(v) + 4, yFmt(v), 'text-anchor="end"'));
  }
  out.push(text(PLOT.left + PLOT.width / 2, p.top + p.height + 34, xLabel, 'text-anchor="middle"'));
  return { x, y, svg: out.join('') };
}

/** Average glyph width at 12 px, for laying out labels without measuring them. */
const CHAR_PX = 6.6;

function legend(x: number, y: number, items: Array<[string, string]>): string {
  let at = x;
  return items
    .map(([label, color]) => {
      const item = `<rect x="${at}" y="${y - 10}" width="12" height="12" fill="${color}"/>${text(at + 18, y, label)}`;
      at += 18 + label.length * CHAR_PX + 24;
      return item;
    })
    .join('');
}

function convergencePanel(r: ScenarioReport, t: Timeline, p: Panel): string {
  const seconds = r.simulatedMs / 1000;
  const a = axes(p, seconds, 100, 'simulated time (s)', (v) => `${v}%`);
  const line = (series: number[], color: string) =>
    `<polyline fill="none" stroke="${color}" stroke-width="2" points="${series
      .map((v, i) => `${a.x(((i + 1) * t.sampleMs) / 1000).toFixed(1)},${a.y(v * 100).toFixed(1)}`)
      .join(' ')}"/>`;
  const marks: string[] = [];
  if (t.partitionMs) {
    const [from, to] = t.partitionMs.map((ms) => a.x(ms / 1000));
    marks.push(
      `<rect x="${from}" y="${p.top}" width="${to! - from!}" height="${p.height}" fill="#6e7681" opacity="0.18"/>`,
    );
    marks.push(text(from! + 4, p.top + 14, 'partition', `fill="${COLORS.axis}"`));
  }
  for (const ms of new Set(t.crashesAtMs)) {
    const cx = a.x(ms / 1000);
    marks.push(
      `<line x1="${cx}" x2="${cx}" y1="${p.top}" y2="${p.top + p.height}" stroke="${COLORS.unreachable}" stroke-dasharray="4 3"/>`,
    );
  }
  const items: Array<[string, string]> = [['membership: pairs seeing each other Active', COLORS.membership]];
  if (t.state) items.push(['state: replicas equal to the most common', COLORS.state]);
  if (t.crashesAtMs.length) items.push([`crash (${t.crashesAtMs.length})`, COLORS.unreachable]);
  return [
    text(PLOT.left, p.top - 30, 'Convergence over time', 'class="h"'),
    legend(PLOT.left, p.top - 10, items),
    a.svg,
    ...marks,
    line(t.membership, COLORS.membership),
    t.state ? line(t.state, COLORS.state) : '',
  ].join('');
}

function largest(xs: number[]): number {
  let m = 0;
  for (const x of xs) if (x > m) m = x;
  return m;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function detectionPanel(t: Timeline, p: Panel): string {
  const title = text(PLOT.left, p.top - 30, 'Failure detection: crash → seen by each live node', 'class="h"');
  if (t.unreachableMs.length === 0 && t.suspectMs.length === 0) {
    return title + text(PLOT.left, p.top + p.height / 2, 'no crash was detected in this run (try --crash K)');
  }
  // Not Math.max(...xs): one sample per observer per crash overflows the argument stack.
  const maxS = largest([largest(t.suspectMs), largest(t.unreachableMs)]) / 1000;
  const bin = niceStep(maxS, 40);
  const bins = Math.floor(maxS / bin) + 1;
  const count = (samples: number[]) => {
    const h = new Array<number>(bins).fill(0);
    for (const ms of samples) h[Math.floor(ms / 1000 / bin)]!++;
    return h;
  };
  const suspect = count(t.suspectMs);
  const unreachable = count(t.unreachableMs);
  const yMax = largest([largest(suspect), largest(unreachable), 1]);
  const a = axes(p, bins * bin, yMax, 'seconds after the crash', String, 1);
  const bars = (h: number[], color: string) =>
    h
      .map((n, i) =>
        n === 0
          ? ''
          : `<rect x="${a.x(i * bin) + 1}" y="${a.y(n)}" width="${Math.max(1, a.x(bin) - a.x(0) - 2)}" height="${a.y(0) - a.y(n)}" fill="${color}" opacity="0.8"/>`,
      )
      .join('');
  const sorted = [...t.unreachableMs].sort((x, y) => x - y);
  const marks = sorted.length
    ? (
        [
          ['p50', quantile(sorted, 0.5)],
          ['p99', quantile(sorted, 0.99)],
        ] as const
      )
        .map(([label, ms]) => {
          const mx = a.x(ms / 1000);
          const right = mx > PLOT.left + PLOT.width - 100;
          return (
            `<line x1="${mx}" x2="${mx}" y1="${p.top}" y2="${p.top + p.height}" stroke="${COLORS.text}" stroke-dasharray="2 3"/>` +
            text(
              right ? mx - 4 : mx + 4,
              p.top + 12,
              `${label} ${(ms / 1000).toFixed(2)} s`,
              right ? 'text-anchor="end"' : '',
            )
          );
        })
        .join('')
    : '';
  return [
    title,
    legend(PLOT.left, p.top - 10, [
      [`Suspect (${t.suspectMs.length} observations)`, COLORS.suspect],
      [`Unreachable (${t.unreachableMs.length})`, COLORS.unreachable],
    ]),
    a.svg,
    bars(suspect, COLORS.suspect),
    bars(unreachable, COLORS.unreachable),
    marks,
  ].join('');
}

export function simSvg(r: ScenarioReport): string {
  const t = r.timeline;
  if (!t) throw new Error('simSvg needs a report with a timeline (runScenario({ timeline: true }))');
  const H = 700;
  const subtitle =
    `${r.nodes} nodes, seed ${r.seed}, loss ${r.config.loss}, latency ${r.config.latencyMs} ms, ` +
    `max links ${r.config.maxLinks}, lifeguard ${r.config.lifeguard ? 'on' : 'off'}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`,
    `<style>text{fill:${COLORS.text}} .h{font-size:15px;font-weight:600} line{stroke-width:1}</style>`,
    `<rect width="${W}" height="${H}" fill="#0d1117"/>`,
    text(PLOT.left, 28, 'weftmesh sim', 'class="h"'),
    text(PLOT.left, 48, subtitle, `fill="${COLORS.axis}"`),
    convergencePanel(r, t, { top: 120, height: 190 }),
    detectionPanel(t, { top: 420, height: 210 }),
    '</svg>',
    '',
  ].join('\n');
}
