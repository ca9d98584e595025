/**
 * The dashboard query under load, as bench:candidates measures it: autocannon in a child process
 * (so the load generator never shares the server's event loop or its CPU accounting), 50
 * connections, first `{ __typename }` as the floor of the same server, then the dashboard page,
 * each after a warm-up: as a dashboard sends it (answered from the response cache while nothing
 * is committed), then with Cache-Control: no-cache (executed every time). The server is the
 * bench's own app, in the parent process.
 *
 * This file is both sides: `measureDashboard` forks it, and run as a child it drives autocannon
 * with the request it receives on IPC and sends the summary back.
 */
import { fork } from "node:child_process";
import * as path from "node:path";
import autocannon from "autocannon";

export const DASHBOARD_QUERY = `query($d: ID!) { models(first: 50) { edges { node { id name task { key } backbone { name } parents { name } score(datasetId: $d) } } } }`;
export const DASHBOARD_TARGETS = { ratioToFloor: 0.35, p99Ms: 250, errors: 0 };
const CONNECTIONS = 50;

export interface LoadRun {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  /** Responses whose body carried GraphQL errors (autocannon sees them as 200s). */
  graphqlErrors: number;
  requests: number;
  seconds: number;
}

export interface DashboardResult {
  connections: number;
  seconds: number;
  query: string;
  floor: LoadRun;
  dashboard: LoadRun;
  ratio: number;
  /** The same query with Cache-Control: no-cache: every request executed. */
  dashboardNoCache: LoadRun;
  ratioNoCache: number;
  /** Models, parents and scores on the page, from one request before the load. */
  page: { models: number; withParents: number; withScore: number };
  met: boolean;
}

interface Request {
  url: string;
  body: string;
  headers?: Record<string, string>;
  seconds: number;
}

/** Floor, then the dashboard query, each after a warm-up of a third of its length. */
export async function measureDashboard(url: string, datasetId: string, seconds: number): Promise<DashboardResult> {
  const body = JSON.stringify({ query: DASHBOARD_QUERY, variables: { d: datasetId } });
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  const first = (await res.json()) as { data?: { models: { edges: Array<{ node: { parents: unknown[]; score: number | null } }> } }; errors?: unknown };
  if (!first.data || first.errors) throw new Error(`the dashboard query failed: ${JSON.stringify(first.errors ?? first)}`);
  const nodes = first.data.models.edges.map((e) => e.node);
  const page = { models: nodes.length, withParents: nodes.filter((n) => n.parents.length > 0).length, withScore: nodes.filter((n) => n.score !== null).length };
  const floorBody = JSON.stringify({ query: "{ __typename }" });
  const warm = Math.max(1, Math.round(seconds / 3));
  await inChild({ url, body: floorBody, seconds: warm });
  const floor = await inChild({ url, body: floorBody, seconds });
  await inChild({ url, body, seconds: warm });
  const dashboard = await inChild({ url, body, seconds });
  const noCache = { "cache-control": "no-cache" };
  await inChild({ url, body, headers: noCache, seconds: warm });
  const dashboardNoCache = await inChild({ url, body, headers: noCache, seconds });
  const ratio = Math.round((dashboard.requestsPerSecond / floor.requestsPerSecond) * 1000) / 1000;
  const ratioNoCache = Math.round((dashboardNoCache.requestsPerSecond / floor.requestsPerSecond) * 1000) / 1000;
  const errors = dashboard.errors + dashboard.non2xx + dashboard.graphqlErrors;
  return {
    connections: CONNECTIONS,
    seconds,
    query: DASHBOARD_QUERY,
    floor,
    dashboard,
    ratio,
    dashboardNoCache,
    ratioNoCache,
    page,
    met: ratio >= DASHBOARD_TARGETS.ratioToFloor && dashboard.p99Ms <= DASHBOARD_TARGETS.p99Ms && errors === DASHBOARD_TARGETS.errors,
  };
}

function inChild(request: Request): Promise<LoadRun> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [], { execArgv: ["-r", path.resolve(__dirname, "../scripts/ts-hook.js")], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let answered = false;
    child.on("message", (message: { result?: LoadRun; error?: string }) => {
      answered = true;
      if (message.result) resolve(message.result);
      else reject(new Error(`load generator: ${message.error}`));
    });
    child.on("exit", (code) => {
      if (!answered) reject(new Error(`load generator exited with ${code} before answering`));
    });
    child.send(request);
  });
}

function drive(request: Request): Promise<LoadRun> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: request.url,
        method: "POST",
        headers: { "content-type": "application/json", ...request.headers },
        body: request.body,
        connections: CONNECTIONS,
        duration: request.seconds,
        // A 200 whose body carries GraphQL errors is a failure too (counted as a mismatch).
        verifyBody: (body) => !String(body ?? "").includes('"errors"'),
      },
      (error, r) => {
        if (error) return reject(error);
        resolve({
          requestsPerSecond: Math.round(r.requests.average * 10) / 10,
          p50Ms: r.latency.p50,
          p99Ms: r.latency.p99,
          errors: r.errors + r.timeouts,
          non2xx: r.non2xx,
          graphqlErrors: r.mismatches,
          requests: r.requests.total,
          seconds: request.seconds,
        });
      },
    );
  });
}

if (require.main === module) {
  process.once("message", (request: Request) => {
    drive(request).then(
      (result) => process.send!({ result }, () => process.exit(0)),
      (error: Error) => process.send!({ error: error.message }, () => process.exit(1)),
    );
  });
}
