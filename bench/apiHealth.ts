/**
 * /healthz latency, one request after another, while the most expensive queries the default
 * limits accept run back to back — ten plans (the cap on expensive fields) of three wide models,
 * three such plans with their lists of tensors and layers, and a full page of models with seven
 * relations each — with /healthz alone on the same machine as the baseline (goal: p99 ≤ 100 ms).
 * Each is sent with Cache-Control: no-cache, so it is executed every time (the page would
 * otherwise be answered from the response cache).
 */
const HEALTH_SECONDS = Number(process.env.BENCH_HEALTH_SECONDS ?? 10);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function healthDuring(url: string, origin: string, label: string, body: string | null) {
  let running = true;
  const durations: number[] = [];
  const load = (async () => {
    while (running && body) {
      const started = performance.now();
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", "cache-control": "no-cache" }, body });
      const result = (await res.json()) as { errors?: unknown };
      if (result.errors) throw new Error(`${label} was refused: ${JSON.stringify(result.errors)}`);
      durations.push(performance.now() - started);
    }
  })();
  await new Promise((r) => setTimeout(r, 200)); // the first one is under way
  const latencies: number[] = [];
  const until = Date.now() + HEALTH_SECONDS * 1000;
  while (Date.now() < until) {
    const started = performance.now();
    const res = await fetch(`${origin}/healthz`);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`/healthz answered ${res.status}`);
    latencies.push(performance.now() - started);
  }
  running = false;
  await load;
  latencies.sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    request: label,
    "request ms (mean)": durations.length ? round(durations.reduce((a, b) => a + b, 0) / durations.length) : null,
    "healthz p50 ms": round(percentile(latencies, 50)),
    "healthz p99 ms": round(percentile(latencies, 99)),
    "healthz max ms": round(latencies[latencies.length - 1]!),
    "healthz samples": latencies.length,
  };
}

export async function healthWhile(url: string, origin: string, wide: string[], wideTensors: number) {
  const plans = (count: number, selection: string) =>
    JSON.stringify({ query: `{ ${Array.from({ length: count }, (_, i) => `p${i}: mergePlan(input: { anchorId: "${wide[0]}", modelIds: ["${wide[1]}", "${wide[2]}"] }) { ${selection} }`).join(" ")} }` });
  const page = JSON.stringify({
    query: `{ models(first: 500) { edges { node { id name task { key } backbone { name } parents { name } children { name } sourceDataset { name } targetDataset { name } structure { hash } } } } }`,
  });
  return [
    await healthDuring(url, origin, "nothing (baseline on this machine)", null),
    await healthDuring(url, origin, `10 × mergePlan of 3 × ${wideTensors} tensors`, plans(10, "layerCount mergedTensorCount expectedOutputBytes")),
    await healthDuring(url, origin, `3 × the same with its tensors and layers`, plans(3, "layerCount layers { index weights } tensors { name action }")),
    await healthDuring(url, origin, "models(first: 500) with 7 relations each", page),
  ];
}
