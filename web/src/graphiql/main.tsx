import { GraphiQL } from "graphiql";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "graphiql/style.css";
import { authHeaders } from "../api/session";

/**
 * GraphiQL, bundled (no CDN), against this server's /graphql. The dashboard's session token is
 * sent unless the headers editor sets Authorization itself.
 */
async function fetcher(params: unknown, options?: { headers?: Record<string, string> }) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...authHeaders(), ...(options?.headers ?? {}) },
    body: JSON.stringify(params),
  });
  return response.json();
}

const DEFAULT_QUERY = `# The registry's GraphQL API. Ctrl-Space completes, Ctrl-Enter runs; the Docs button lists every type.
# Back to the dashboard: /
{
  viewer { name role }
  models(first: 5, orderBy: { field: CREATED_AT }) {
    totalCount
    edges { node { id name version origin task { key } } }
  }
}
`;

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY} />
  </StrictMode>,
);
