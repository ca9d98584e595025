export interface Curve {
  label: string;
  /** One effective weight per layer. */
  values: number[];
}

const W = 640;
const H = 240;
const PAD = { left: 44, right: 12, top: 12, bottom: 34 };

/**
 * Each input's effective weight w(l) over the anchor's layers (arXiv 2409.15813, Sec. 3: early
 * layers averaged, late layers close to the anchor). y is fixed to 0–1 so curves of different
 * merges compare at a glance.
 */
export function WeightCurves({ curves, title }: { curves: Curve[]; title: string }) {
  const layers = Math.max(0, ...curves.map((c) => c.values.length));
  const x = (l: number) => PAD.left + (layers <= 1 ? 0 : (l / (layers - 1)) * (W - PAD.left - PAD.right));
  const y = (w: number) => PAD.top + (1 - w) * (H - PAD.top - PAD.bottom);
  const ticks = layers <= 1 ? [0] : Array.from(new Set([0, Math.round((layers - 1) / 4), Math.round((layers - 1) / 2), Math.round((3 * (layers - 1)) / 4), layers - 1]));
  return (
    <figure className="weight-curves">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}: ${curves.map((c) => `${c.label} from ${c.values[0]?.toFixed(2)} to ${c.values[c.values.length - 1]?.toFixed(2)}`).join("; ")}`}>
        {[0, 0.25, 0.5, 0.75, 1].map((v) => (
          <g key={v} className="grid">
            <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} />
            <text x={PAD.left - 6} y={y(v) + 4} textAnchor="end">
              {v.toFixed(2)}
            </text>
          </g>
        ))}
        {ticks.map((l) => (
          <text key={l} className="tick" x={x(l)} y={H - PAD.bottom + 16} textAnchor="middle">
            {l}
          </text>
        ))}
        <text className="axis-title" x={(W + PAD.left) / 2} y={H - 4} textAnchor="middle">
          layer l (forward order)
        </text>
        {curves.map((curve, i) => (
          <g key={curve.label + i} className={`curve series-${i % 8}`}>
            <polyline points={curve.values.map((w, l) => `${x(l)},${y(w)}`).join(" ")} />
            {curve.values.length <= 40 ? curve.values.map((w, l) => <circle key={l} cx={x(l)} cy={y(w)} r={2.5} />) : null}
          </g>
        ))}
      </svg>
      <div className="legend">
        {curves.map((c, i) => (
          <span key={c.label + i}>
            <span className={`swatch series-${i % 8}`} /> {c.label}
          </span>
        ))}
      </div>
    </figure>
  );
}
