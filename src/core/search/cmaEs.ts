import { invariant } from "../errors";
import { SplitMix64 } from "./splitmix64";
import { symmetricEigen } from "./symmetricEigen";

/** λ = 4 + ⌊3 ln n⌋ (Hansen, "The CMA Evolution Strategy: A Tutorial", 2016, Table 1). */
export function cmaPopulationSize(dimension: number): number {
  return 4 + Math.floor(3 * Math.log(dimension));
}

export const CMA_SIGMA0 = 0.2;

/**
 * (μ/μ_w, λ)-CMA-ES with the default parameters of Hansen's tutorial (Table 1; cumulative step-size
 * adaptation, rank-one and rank-μ updates), maximising. Seeded: the Gaussian draws come from
 * splitmix64 in the order `ask` makes them, so a seed and the same fitness values reproduce the run.
 * Points are searched in [0, 1]ⁿ (schedule knots): callers evaluate `clip(x)`; the update uses the
 * unclipped points, so the distribution is not distorted by the bound.
 */
export class CmaEs {
  readonly n: number;
  readonly lambda: number;
  readonly mu: number;
  mean: Float64Array;
  sigma: number;
  generation = 0;
  private readonly weights: Float64Array;
  private readonly mueff: number;
  private readonly cc: number;
  private readonly cs: number;
  private readonly c1: number;
  private readonly cmu: number;
  private readonly damps: number;
  private readonly chiN: number;
  private readonly C: Float64Array;
  private readonly pc: Float64Array;
  private readonly ps: Float64Array;
  private B: Float64Array;
  private D: Float64Array;
  private readonly rng: SplitMix64;

  constructor(mean: readonly number[], options: { seed: bigint; sigma0?: number; lambda?: number }) {
    const n = mean.length;
    invariant(n >= 1, "CMA-ES needs at least one dimension");
    this.n = n;
    this.mean = Float64Array.from(mean);
    this.sigma = options.sigma0 ?? CMA_SIGMA0;
    this.lambda = options.lambda ?? cmaPopulationSize(n);
    this.mu = Math.floor(this.lambda / 2);
    const raw = Array.from({ length: this.mu }, (_, i) => Math.log((this.lambda + 1) / 2) - Math.log(i + 1));
    const total = raw.reduce((a, b) => a + b, 0);
    this.weights = Float64Array.from(raw.map((w) => w / total));
    this.mueff = 1 / this.weights.reduce((a, w) => a + w * w, 0);
    const me = this.mueff;
    this.cc = (4 + me / n) / (n + 4 + (2 * me) / n);
    this.cs = (me + 2) / (n + me + 5);
    this.c1 = 2 / ((n + 1.3) ** 2 + me);
    this.cmu = Math.min(1 - this.c1, (2 * (me - 2 + 1 / me)) / ((n + 2) ** 2 + me));
    this.damps = 1 + 2 * Math.max(0, Math.sqrt((me - 1) / (n + 1)) - 1) + this.cs;
    this.chiN = Math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));
    this.C = new Float64Array(n * n);
    for (let i = 0; i < n; i++) this.C[i * n + i] = 1;
    this.pc = new Float64Array(n);
    this.ps = new Float64Array(n);
    this.B = Float64Array.from(this.C);
    this.D = new Float64Array(n).fill(1);
    this.rng = new SplitMix64(BigInt.asUintN(64, options.seed));
  }

  /** λ new points x = m + σ·B·D·z, z ~ N(0, I). */
  ask(): number[][] {
    const { n } = this;
    const points: number[][] = [];
    for (let k = 0; k < this.lambda; k++) {
      const z = Array.from({ length: n }, () => this.rng.gaussian());
      const x = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += this.B[i * n + j] * this.D[j] * z[j];
        x[i] = this.mean[i] + this.sigma * s;
      }
      points.push(x);
    }
    return points;
  }

  /** Updates the distribution from the λ points of the last `ask` and their fitness (higher is better). */
  tell(points: readonly (readonly number[])[], fitness: readonly number[]): void {
    const { n, mu } = this;
    invariant(points.length === this.lambda && fitness.length === this.lambda, `CMA-ES tell needs ${this.lambda} points and fitness values`);
    const order = fitness.map((f, i) => i).sort((a, b) => fitness[b] - fitness[a] || a - b);
    const old = Float64Array.from(this.mean);
    const ys = order.slice(0, mu).map((i) => points[i].map((x, d) => (x - old[d]) / this.sigma));
    const yw = new Float64Array(n);
    ys.forEach((y, k) => y.forEach((v, d) => (yw[d] += this.weights[k] * v)));
    for (let d = 0; d < n; d++) this.mean[d] = old[d] + this.sigma * yw[d];

    // C^{-1/2}·yw = B·D⁻¹·Bᵀ·yw
    const bt = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += this.B[i * n + j] * yw[i];
      bt[j] = s / this.D[j];
    }
    const csn = Math.sqrt(this.cs * (2 - this.cs) * this.mueff);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += this.B[i * n + j] * bt[j];
      this.ps[i] = (1 - this.cs) * this.ps[i] + csn * s;
    }
    const psNorm = Math.hypot(...this.ps);
    this.generation++;
    const hsig = psNorm / Math.sqrt(1 - (1 - this.cs) ** (2 * this.generation)) / this.chiN < 1.4 + 2 / (n + 1) ? 1 : 0;
    const ccn = Math.sqrt(this.cc * (2 - this.cc) * this.mueff);
    for (let i = 0; i < n; i++) this.pc[i] = (1 - this.cc) * this.pc[i] + hsig * ccn * yw[i];
    const keep = 1 - this.c1 - this.cmu + (1 - hsig) * this.c1 * this.cc * (2 - this.cc);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let rankMu = 0;
        ys.forEach((y, k) => (rankMu += this.weights[k] * y[i] * y[j]));
        this.C[i * n + j] = keep * this.C[i * n + j] + this.c1 * this.pc[i] * this.pc[j] + this.cmu * rankMu;
      }
    }
    this.sigma *= Math.exp((this.cs / this.damps) * (psNorm / this.chiN - 1));
    const { values, vectors } = symmetricEigen(this.C, n);
    this.B = vectors;
    this.D = values.map((v) => Math.sqrt(Math.max(v, 1e-20)));
  }
}

/** A point clipped to [0, 1] in every coordinate: what is evaluated. */
export function clipUnit(x: readonly number[]): number[] {
  return x.map((v) => (v < 0 ? 0 : v > 1 ? 1 : v));
}
