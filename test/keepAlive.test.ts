import { startTestServer, TestServer } from "./support/testServer";
import { upload } from "./support/http";

/**
 * A client whose event loop is busy (hashing, generating a file) cannot close an idle kept-alive
 * connection when its own idle timer says so; when it is free again it sends its next request
 * on that connection. The server must not have closed it under the client in the meantime, or
 * the request dies with ECONNRESET/EPIPE — a large upload most visibly. So the server keeps idle
 * connections longer than clients keep them (undici: 4 s, browsers: up to ~60 s behind proxies).
 */
describe("kept-alive connections outlive a busy client", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("sqlite");
  });
  afterAll(async () => {
    await server?.stop();
  });

  test("the server's idle timeout is longer than a client's and its header timeout longer still", () => {
    const http = server.app.server.httpServer;
    expect(http.keepAliveTimeout).toBeGreaterThanOrEqual(60_000);
    expect(http.headersTimeout).toBeGreaterThan(http.keepAliveTimeout);
  });

  test("an upload sent on a connection left idle for 6 s while the loop was blocked succeeds", async () => {
    const bytes = new Uint8Array(8 << 20).map((_, i) => (i * 31) & 0xff);
    for (let round = 0; round < 2; round++) {
      await server.ok("{ __typename }");
      // Busy, as a client computing its next file is: no timer of this process fires meanwhile.
      const until = Date.now() + 6_000;
      while (Date.now() < until);
      const { status } = await upload(server.origin, bytes);
      expect(status).toBe(201);
    }
  }, 60_000);
});
