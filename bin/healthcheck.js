#!/usr/bin/env node
// The container health check (the image's HEALTHCHECK, and docker-compose.yml's). One image runs
// both roles: `layermerge serve` answers GET /healthz on PORT; a `layermerge worker` serves no
// API, only its own /healthz on LAYERMERGE_METRICS_PORT. So: PORT's /healthz decides when
// something listens there; when nothing does, the worker's port decides. Exit 0 = healthy.
const port = process.env.PORT || "4000";
const workerPort = process.env.LAYERMERGE_METRICS_PORT;

/** "ok", "unhealthy" (an answer other than 200) or "absent" (nothing listens on the port). */
async function probe(p) {
  try {
    const res = await fetch(`http://127.0.0.1:${p}/healthz`, { signal: AbortSignal.timeout(4000) });
    return res.status === 200 ? "ok" : "unhealthy";
  } catch (error) {
    return error && error.cause && error.cause.code === "ECONNREFUSED" ? "absent" : "unhealthy";
  }
}

(async () => {
  let state = await probe(port);
  if (state === "absent" && workerPort) state = await probe(workerPort);
  process.exit(state === "ok" ? 0 : 1);
})();
