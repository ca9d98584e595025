import type { TestServer } from "./testServer";

export const JOB_FIELDS = `id kind status progress message error errorCode attempts model { id name origin } merge { id }`;

/** Polls job(id) until it leaves QUEUED/RUNNING (or the timeout passes). */
export async function waitForJob(server: TestServer, id: string, timeoutMs = 60_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { job } = await server.ok(`query($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`, { id });
    if (job.status !== "QUEUED" && job.status !== "RUNNING") return job;
    if (Date.now() > until) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
