import { authHeaders } from "./session";

export interface GraphQLErrorShape {
  message: string;
  path?: Array<string | number>;
  extensions?: { code?: string; field?: string; [key: string]: unknown };
}

/** A failed request, carrying the server's own words (the first GraphQL error's message). */
export class RequestError extends Error {
  readonly code: string | undefined;
  readonly field: string | undefined;
  constructor(readonly errors: GraphQLErrorShape[], readonly status: number) {
    super(errors.map((e) => e.message).join("; ") || `the server answered HTTP ${status}`);
    this.code = errors[0]?.extensions?.code;
    this.field = errors[0]?.extensions?.field;
  }
}

/** Fired when any request answers UNAUTHENTICATED, so the shell can ask for a token. */
export const UNAUTHENTICATED_EVENT = "layermerge:unauthenticated";

export async function gql<T>(query: string, variables: Record<string, unknown> = {}, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...authHeaders() },
      body: JSON.stringify({ query, variables }),
      signal,
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new RequestError([{ message: `cannot reach the registry at ${location.origin}/graphql (${(error as Error).message})` }], 0);
  }
  let body: { data?: T; errors?: GraphQLErrorShape[] };
  try {
    body = await response.json();
  } catch {
    throw new RequestError([{ message: `the registry answered HTTP ${response.status} without a GraphQL body` }], response.status);
  }
  if (body.errors?.length) {
    const error = new RequestError(body.errors, response.status);
    if (body.errors.some((e) => e.extensions?.code === "UNAUTHENTICATED")) {
      window.dispatchEvent(new CustomEvent(UNAUTHENTICATED_EVENT, { detail: error.message }));
    }
    throw error;
  }
  if (!body.data) throw new RequestError([{ message: "the registry answered without data" }], response.status);
  return body.data;
}
