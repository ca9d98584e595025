import * as fs from "node:fs";
import { createHash } from "node:crypto";
import { DomainError } from "../core/errors";
import WebSocket from "ws";
import { createClient } from "graphql-ws";

/**
 * How CLI commands other than serve/migrate/token reach a registry: over its public API, like
 * any script would. LAYERMERGE_URL (default http://127.0.0.1:4000) and LAYERMERGE_TOKEN.
 */
export class ApiClient {
  readonly origin: string;
  constructor(origin = process.env.LAYERMERGE_URL || "http://127.0.0.1:4000", private readonly token = process.env.LAYERMERGE_TOKEN) {
    this.origin = origin.replace(/\/+$/, "").replace(/\/graphql$/, "");
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...extra, ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) };
  }

  async graphql<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.origin}/graphql`, { method: "POST", headers: this.headers({ "content-type": "application/json" }), body: JSON.stringify({ query, variables }) });
    } catch (error) {
      throw new DomainError("BAD_USER_INPUT", `cannot reach the registry at ${this.origin} (${(error as Error).cause ?? (error as Error).message}); set LAYERMERGE_URL`);
    }
    const body = (await res.json().catch(() => null)) as { data?: T; errors?: Array<{ message: string; extensions?: { code?: string; field?: string } }> } | null;
    if (!body) throw new DomainError("BAD_USER_INPUT", `the registry answered HTTP ${res.status} without a GraphQL body`);
    if (body.errors?.length) {
      const e = body.errors[0];
      const field = e.extensions?.field ? ` (${e.extensions.field})` : "";
      throw new DomainError("BAD_USER_INPUT", `${e.extensions?.code ?? "ERROR"}: ${e.message}${field}`, { field: e.extensions?.field, details: { code: e.extensions?.code } });
    }
    return body.data as T;
  }

  /** Resolves when the job ends, calling `onUpdate` for every jobUpdated event. */
  watchJob(id: string, onUpdate: (u: { status: string; progress: number; message: string | null }) => void): Promise<void> {
    const ws = createClient({
      url: `${this.origin.replace(/^http/, "ws")}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: this.token ? { authorization: `Bearer ${this.token}` } : {},
      retryAttempts: 0,
      lazy: true,
    });
    return new Promise<void>((resolve, reject) => {
      ws.subscribe(
        { query: `subscription($id: ID!) { jobUpdated(id: $id) { status progress message } }`, variables: { id } },
        {
          next: (value) => {
            if (value.errors?.length) reject(new Error(value.errors[0].message));
            else onUpdate((value.data as { jobUpdated: { status: string; progress: number; message: string | null } }).jobUpdated);
          },
          error: (error) => reject(error instanceof Error ? error : new Error("subscription failed")),
          complete: () => resolve(),
        },
      );
    }).finally(() => void ws.dispose());
  }

  async has(sha256: string): Promise<boolean> {
    const res = await fetch(`${this.origin}/artifacts/${sha256}`, { method: "HEAD", headers: this.headers() });
    if (res.status === 401 || res.status === 403) throw new DomainError("UNAUTHENTICATED", "the registry refused the token for artifacts (set LAYERMERGE_TOKEN)");
    return res.status === 200;
  }

  /** Streams a file to PUT /artifacts, reporting bytes sent. */
  async upload(file: string, onProgress: (sent: number, total: number) => void): Promise<{ sha256: string; sizeBytes: number }> {
    const total = fs.statSync(file).size;
    let sent = 0;
    const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        for await (const chunk of stream) {
          sent += (chunk as Buffer).length;
          onProgress(sent, total);
          controller.enqueue(chunk as Buffer);
        }
        controller.close();
      },
    });
    const res = await fetch(`${this.origin}/artifacts`, {
      method: "PUT",
      headers: this.headers({ "content-type": "application/octet-stream", "content-length": String(total) }),
      body,
      duplex: "half",
    } as RequestInit & { duplex: "half" });
    const json = (await res.json().catch(() => null)) as { sha256?: string; sizeBytes?: number; error?: { message: string } } | null;
    if (res.status !== 201 || !json?.sha256) throw new DomainError("BAD_USER_INPUT", `upload failed (HTTP ${res.status}): ${json?.error?.message ?? "no details"}`);
    return { sha256: json.sha256, sizeBytes: json.sizeBytes! };
  }
}

export async function sha256File(file: string, onProgress?: (done: number, total: number) => void): Promise<string> {
  const total = fs.statSync(file).size;
  const hash = createHash("sha256");
  let done = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 << 20 })) {
    hash.update(chunk as Buffer);
    done += (chunk as Buffer).length;
    onProgress?.(done, total);
  }
  return hash.digest("hex");
}
