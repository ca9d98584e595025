export interface Point {
  key: string;
  x: number;
  y: number;
  label: string;
  /** Drawn larger and outlined (the pick). */
  highlight?: boolean;
  /** Drawn as a hollow circle (a single model rather than a merge). */
  hollow?: boolean;
}

const W = 640;
const H = 320;
const PAD = { left: 60, right: 14, top: 12, bottom: 40 };

/** Five round ticks over [lo, hi]. */
function ticks(lo: number, hi: number): number[] {
  if (hi === lo) return [lo];
  return Array.from({ length: 5 }, (_, i) => lo + ((hi - lo) * i) / 4);
}

/**
 * Points on two linear axes fitted to the data (padded by 5 %), so a criterion's agreement with a
 * held-out score reads at a glance. Every point carries its key and values as data attributes and
 * a title, so it can be read without the picture. Needs at least one point.
 */
export function ScatterPlot({ points, title, xLabel, yLabel, xFormat, yFormat, testId }: { points: Point[]; title: string; xLabel: string; yLabel: string; xFormat: (v: number) => string; yFormat: (v: number) => string; testId?: string }) {
  const span = (values: number[]) => {
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    const pad = hi === lo ? Math.abs(hi) * 0.05 || 0.5 : (hi - lo) * 0.05;
    return [lo - pad, hi + pad] as const;
  };
  const [x0, x1] = span(points.map((p) => p.x));
  const [y0, y1] = span(points.map((p) => p.y));
  const x = (v: number) => PAD.left + ((v - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - (v - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  const tx = ticks(Math.min(...points.map((p) => p.x)), Math.max(...points.map((p) => p.x)));
  const ty = ticks(Math.min(...points.map((p) => p.y)), Math.max(...points.map((p) => p.y)));
  return (
    <figure className="scatter" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}: ${points.length} points`}>
        {ty.map((v) => (
          <g key={`y${v}`} className="grid">
            <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} />
            <text x={PAD.left - 6} y={y(v) + 4} textAnchor="end">{yFormat(v)}</text>
          </g>
        ))}
        {tx.map((v) => (
          <g key={`x${v}`} className="grid">
            <line x1={x(v)} x2={x(v)} y1={PAD.top} y2={H - PAD.bottom} />
            <text x={x(v)} y={H - PAD.bottom + 16} textAnchor="middle">{xFormat(v)}</text>
          </g>
        ))}
        <text className="axis-title" x={(W + PAD.left) / 2} y={H - 4} textAnchor="middle">{xLabel}</text>
        <text className="axis-title" transform={`translate(14 ${(H - PAD.bottom) / 2}) rotate(-90)`} textAnchor="middle">{yLabel}</text>
        {points.map((p) => (
          <circle
            key={p.key}
            className={`point${p.highlight ? " highlight" : ""}${p.hollow ? " hollow" : ""}`}
            cx={x(p.x)}
            cy={y(p.y)}
            r={p.highlight ? 6 : 4}
            data-key={p.key}
            data-objective={p.x}
            data-audit={p.y}
          >
            <title>{`${p.label}: ${xFormat(p.x)}, ${yFormat(p.y)}`}</title>
          </circle>
        ))}
      </svg>
    </figure>
  );
}
