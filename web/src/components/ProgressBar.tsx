/** A job's progress (0..1) as a native progressbar role, so screen readers announce it. */
export function ProgressBar({ value, status, label }: { value: number; status: string; label: string }) {
  const pct = Math.round(Math.max(0, Math.min(1, value)) * 100);
  return (
    <div className={`progress status-${status.toLowerCase()}`} role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-valuetext={`${pct} % ${status.toLowerCase()}`}>
      <div className="progress-fill" style={{ width: `${pct}%` }} />
      <span className="progress-text">
        {pct} % · {status.toLowerCase()}
      </span>
    </div>
  );
}
