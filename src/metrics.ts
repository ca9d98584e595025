import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Db } from "./persistence/database";

/**
 * Prometheus metrics of one process: jobs by status and kind (read from the database at scrape
 * time, so every process reports the shared truth), job durations (jobs this process ran),
 * GraphQL request counts and latencies, and Node's own process metrics.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly jobDuration: Histogram<"kind" | "status">;
  readonly graphqlRequests: Counter<"operation" | "outcome">;
  readonly graphqlLatency: Histogram<"operation">;

  constructor(db: Db | null) {
    collectDefaultMetrics({ register: this.registry, prefix: "layermerge_process_" });
    this.jobDuration = new Histogram({
      name: "layermerge_job_duration_seconds",
      help: "Wall time of jobs run by this process, from start to end.",
      labelNames: ["kind", "status"],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600],
      registers: [this.registry],
    });
    this.graphqlRequests = new Counter({
      name: "layermerge_graphql_requests_total",
      help: "GraphQL operations served, by operation type and outcome.",
      labelNames: ["operation", "outcome"],
      registers: [this.registry],
    });
    this.graphqlLatency = new Histogram({
      name: "layermerge_graphql_request_duration_seconds",
      help: "Latency of GraphQL operations, by operation type.",
      labelNames: ["operation"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    if (db) {
      new Gauge({
        name: "layermerge_jobs",
        help: "Jobs in the registry by status and kind.",
        labelNames: ["status", "kind"],
        registers: [this.registry],
        async collect() {
          this.reset();
          const rows = await db.job.groupBy({ by: ["status", "kind"], _count: { _all: true } });
          for (const r of rows) this.set({ status: r.status, kind: r.kind }, r._count._all);
        },
      });
    }
  }
}
