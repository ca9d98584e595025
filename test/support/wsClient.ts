import WebSocket from "ws";
import { createClient } from "graphql-ws";

export interface WsOutcome {
  /** `next` payloads received. */
  results: any[];
  /** The `error` message's GraphQL errors, when the operation was refused. */
  errors?: Array<{ message: string; extensions?: Record<string, any> }>;
  /** How the socket closed, when it closed before the operation completed. */
  closeCode?: number;
  closeReason?: string;
}

/**
 * One operation over graphql-ws with a real WebSocket client, optionally as a browser page of
 * `origin` would send it; settles when the operation completes, is refused, or the socket closes.
 */
export function wsOperation(
  url: string,
  payload: { query: string; variables?: Record<string, unknown>; operationName?: string },
  options: { origin?: string; token?: string; untilFirstResult?: boolean } = {},
): Promise<WsOutcome> {
  const origin = options.origin;
  class BrowserLikeSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, origin ? { origin } : {});
    }
  }
  const outcome: WsOutcome = { results: [] };
  return new Promise((resolve) => {
    const client = createClient({
      url: url.replace(/^http/, "ws"),
      webSocketImpl: BrowserLikeSocket,
      connectionParams: options.token ? { authorization: `Bearer ${options.token}` } : {},
      lazy: true,
      retryAttempts: 0,
      on: {
        closed: (event) => {
          const close = event as { code?: number; reason?: string };
          if (outcome.closeCode === undefined) {
            outcome.closeCode = close.code;
            outcome.closeReason = close.reason;
          }
        },
      },
    });
    const finish = () => {
      void client.dispose();
      resolve(outcome);
    };
    client.subscribe(payload, {
      next: (value) => {
        outcome.results.push(value);
        if (options.untilFirstResult) finish();
      },
      error: (error) => {
        if (Array.isArray(error)) outcome.errors = error as WsOutcome["errors"];
        else if (error && typeof (error as { code?: unknown }).code === "number") {
          outcome.closeCode = (error as { code: number }).code;
          outcome.closeReason = (error as { reason?: string }).reason;
        }
        finish();
      },
      complete: finish,
    });
  });
}

/** The HTTP answer to a bare upgrade request (status and body when refused, 101 when accepted). */
export function upgradeStatus(url: string, origin?: string, host?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url.replace(/^http/, "ws"), "graphql-transport-ws", { ...(origin ? { origin } : {}), ...(host ? { headers: { host } } : {}) });
    socket.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    socket.on("open", () => {
      socket.close();
      resolve({ status: 101, body: "" });
    });
    socket.on("error", (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });
}
