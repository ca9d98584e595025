import type { ApolloServerPlugin } from "@apollo/server";
import type { Metrics } from "../metrics";

/** Counts GraphQL operations by type and outcome and times them (labels stay low-cardinality). */
export function metricsPlugin(metrics: Metrics): ApolloServerPlugin {
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      let operation = "unknown";
      return {
        async didResolveOperation({ operation: op }) {
          operation = op?.operation ?? "unknown";
        },
        async willSendResponse({ errors, response }) {
          const failed = Boolean(errors?.length) || (response.body.kind === "single" && Boolean(response.body.singleResult.errors?.length));
          metrics.graphqlRequests.inc({ operation, outcome: failed ? "error" : "ok" });
          metrics.graphqlLatency.observe({ operation }, Number(process.hrtime.bigint() - started) / 1e9);
        },
      };
    },
  };
}
