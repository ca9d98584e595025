import { percent } from "../format";

export interface Bar {
  label: string;
  /** Several values per label (PQ, SQ, RQ) are drawn side by side. */
  values: Array<number | null>;
}

/**
 * Horizontal bars on a 0–100 % scale, one row per class. Undefined values (a class with an empty
 * union) are written as "—" rather than drawn as zero, so they are not mistaken for a 0 score.
 */
export function BarChart({ bars, series, title }: { bars: Bar[]; series: string[]; title: string }) {
  return (
    <figure className="bar-chart">
      <figcaption>{title}</figcaption>
      {series.length > 1 ? (
        <div className="legend">
          {series.map((s, i) => (
            <span key={s}>
              <span className={`swatch series-${i}`} /> {s}
            </span>
          ))}
        </div>
      ) : null}
      <table className="bars">
        <tbody>
          {bars.map((bar) => (
            <tr key={bar.label}>
              <th scope="row">{bar.label}</th>
              <td>
                {bar.values.map((v, i) => (
                  <div className="bar-line" key={i}>
                    <div className="bar-track">
                      {v === null ? null : <div className={`bar-fill series-${i}`} style={{ width: `${Math.max(0, Math.min(1, v)) * 100}%` }} />}
                    </div>
                    <span className="bar-value">
                      {series.length > 1 ? `${series[i]} ` : ""}
                      {percent(v)}
                    </span>
                  </div>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
