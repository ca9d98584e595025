import { hostAllowed, isLoopbackAddress } from "./hostCheck";

describe("hostAllowed", () => {
  const off = { auth: "off" as const, host: "127.0.0.1", corsOrigins: ["https://dash.example.org"] };

  test("an auth-off loopback server answers loopback names and listed origins' hosts only", () => {
    for (const host of ["127.0.0.1:4000", "localhost:4000", "LOCALHOST", "[::1]:4000", "app.localhost:4000", "dash.example.org"]) expect(hostAllowed(host, off)).toBe(true);
    for (const host of ["evil.example:4000", "127.0.0.1.evil.example", "192.168.1.5:4000", "bad host"]) expect(hostAllowed(host, off)).toBe(false);
    expect(hostAllowed(undefined, off)).toBe(true);
  });

  test("with auth on, or listening beyond loopback, the Host is not restricted", () => {
    expect(hostAllowed("evil.example", { ...off, auth: "writes" })).toBe(true);
    expect(hostAllowed("evil.example", { ...off, host: "0.0.0.0" })).toBe(true);
  });

  test("loopback addresses", () => {
    expect(["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"].every(isLoopbackAddress)).toBe(true);
    expect(["0.0.0.0", "::", "10.0.0.1", "localhost.evil.example"].some(isLoopbackAddress)).toBe(false);
  });
});
