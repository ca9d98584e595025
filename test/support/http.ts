import * as http from "node:http";

/**
 * Small helpers for the artifact routes. An upload goes on a connection of its own (node:http,
 * no agent): fetch reuses keep-alive connections, and on a loaded machine it may write a large
 * body into one the server has just closed as idle (EPIPE, no answer).
 */
export function upload(origin: string, bytes: Uint8Array, token?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    let responded = false;
    const headers = { "content-type": "application/octet-stream", "content-length": bytes.byteLength, ...(token ? { authorization: `Bearer ${token}` } : {}) };
    const req = http.request(`${origin}/artifacts`, { method: "PUT", agent: false, headers }, (res) => {
      responded = true;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null }));
      res.on("error", reject);
    });
    // A refusal (413) is answered before the body is read, and the rest of the write then fails: the answer counts.
    req.on("error", (error) => responded || reject(error));
    req.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
}
