import { formatSeconds } from "../services/format";

export { formatSeconds };
/**
 * A terminal progress bar on stderr: redrawn in place on a TTY, a line per 10 % otherwise (CI
 * logs, pipes), so long uploads, merges and evaluations always show that they move.
 */
export class ProgressBar {
  private lastDecile = -1;
  private lastDraw = 0;
  private readonly tty: boolean;
  private readonly started = Date.now();

  constructor(private readonly label: string, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(stream.isTTY);
  }

  /** fraction in [0, 1]; `detail` e.g. "12.5 / 100 MB". */
  update(fraction: number, detail = ""): void {
    const f = Math.max(0, Math.min(1, fraction));
    const now = Date.now();
    if (this.tty) {
      if (now - this.lastDraw < 80 && f < 1) return;
      this.lastDraw = now;
      const width = 30;
      const filled = Math.round(f * width);
      const eta = f > 0.02 && f < 1 ? ` eta ${formatSeconds(((now - this.started) / f) * (1 - f))}` : "";
      this.stream.write(`\r${this.label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(f * 100).toFixed(1).padStart(5)}% ${detail}${eta}\x1b[K`);
    } else {
      const decile = Math.floor(f * 10);
      if (decile === this.lastDecile) return;
      this.lastDecile = decile;
      this.stream.write(`${this.label} ${Math.round(f * 100)}% ${detail}\n`);
    }
  }

  done(message = ""): void {
    this.update(1);
    if (this.tty) this.stream.write("\n");
    if (message) this.stream.write(`${message}\n`);
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
