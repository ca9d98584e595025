import WebSocket from "ws";
import { createClient } from "graphql-ws";

/** Collects jobUpdated events for one job over graphql-ws until the job ends. */
export function watchJob(url: string, jobId: string, token?: string): { updates: any[]; done: Promise<any[]> } {
  const updates: any[] = [];
  const client = createClient({ url: url.replace(/^http/, "ws"), webSocketImpl: WebSocket, connectionParams: token ? { authorization: `Bearer ${token}` } : {}, lazy: true, retryAttempts: 0 });
  const done = new Promise<any[]>((resolve, reject) => {
    client.subscribe(
      { query: `subscription($id: ID!) { jobUpdated(id: $id) { id status progress message error } }`, variables: { id: jobId } },
      {
        next: (value) => {
          if (value.errors) reject(new Error(JSON.stringify(value.errors)));
          else updates.push((value.data as any).jobUpdated);
        },
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => {
          void client.dispose();
          resolve(updates);
        },
      },
    );
  });
  return { updates, done };
}
