import { type Client, createClient } from "graphql-ws/client";
import { readToken } from "./session";

/** What the jobUpdated subscription emits (schema.graphql, type JobUpdate). */
export interface JobUpdate {
  id: string;
  kind: string;
  status: string;
  progress: number;
  message: string | null;
  error: string | null;
}

export const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

const SUBSCRIPTION = `subscription JobUpdated($id: ID!) { jobUpdated(id: $id) { id kind status progress message error } }`;

let shared: { token: string | null; client: Client } | null = null;

/**
 * One graphql-ws connection per tab (subscriptions multiplex over it), opened lazily on the
 * first subscription and re-made when the token changes: the server authenticates a socket once,
 * from its connection parameters, since a browser WebSocket cannot carry an authorization header.
 */
function client(): Client {
  const token = readToken();
  if (shared && shared.token === token) return shared.client;
  void shared?.client.dispose();
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
  shared = {
    token,
    client: createClient({
      url,
      connectionParams: token ? { authorization: `Bearer ${token}` } : {},
      lazy: true,
      // No reconnect loop: a failed socket hands over to polling at once (callers' fallback),
      // rather than leaving a progress bar frozen through graphql-ws's back-off.
      retryAttempts: 0,
    }),
  };
  return shared.client;
}

export interface JobWatch {
  /** Every state the server sends: the current one first, then each change. */
  update(update: JobUpdate): void;
  /** The socket could not be used (refused, dropped, or it ended before the job did). */
  fail(reason: string): void;
}

/**
 * Follows one job over the `jobUpdated` subscription until it ends. Returns the unsubscribe
 * function. A stream that completes without a terminal status counts as a failure, so the
 * caller's polling takes over and nothing is left showing a stale "running".
 */
export function watchJob(id: string, watch: JobWatch): () => void {
  let ended = false;
  let stopped = false;
  let dispose: () => void = () => undefined;
  try {
    dispose = client().subscribe<{ jobUpdated: JobUpdate }>({ query: SUBSCRIPTION, variables: { id } }, {
      next(value) {
        if (stopped) return;
        if (value.errors?.length) {
          stopped = true;
          watch.fail(value.errors.map((e) => e.message).join("; "));
          return;
        }
        const update = value.data?.jobUpdated;
        if (!update) return;
        if (TERMINAL.has(update.status)) ended = true;
        watch.update(update);
      },
      error(error) {
        if (stopped) return;
        stopped = true;
        watch.fail(describe(error));
      },
      complete() {
        if (stopped) return;
        stopped = true;
        if (!ended) watch.fail("the update stream ended before the job did");
      },
    });
  } catch (error) {
    // No WebSocket in this browser (or a URL it refuses): polling it is.
    queueMicrotask(() => watch.fail(describe(error)));
  }
  return () => {
    stopped = true;
    dispose();
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error && typeof error === "object" && "code" in error) {
    const close = error as { code: number; reason?: string };
    return `the socket closed (${close.code}${close.reason ? `: ${close.reason}` : ""})`;
  }
  if (Array.isArray(error)) return error.map((e: { message?: string }) => e.message ?? String(e)).join("; ");
  return "the socket failed";
}
