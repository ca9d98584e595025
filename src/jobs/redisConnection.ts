import IORedis, { type RedisOptions } from "ioredis";
import { UnreachableError, reasonOf, type OutageLog } from "../outage";

/**
 * ioredis options for a Redis URL. Reconnection is quick and bounded (every 2 s at most), so a
 * process is back at work within seconds of Redis returning — BullMQ's own default backs off to
 * 20 s.
 */
export function redisOptions(redisUrl: string): RedisOptions {
  const url = new URL(redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: url.pathname && url.pathname !== "/" ? Number(url.pathname.slice(1)) : undefined,
    tls: url.protocol === "rediss:" ? {} : undefined,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(200 * times, 2000),
  };
}

/** Connects once (no retries) and pings: start-up fails with one line naming Redis when it cannot. */
export async function checkRedis(redisUrl: string, timeoutMs = 5000): Promise<void> {
  const client = new IORedis({ ...redisOptions(redisUrl), lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: timeoutMs, maxRetriesPerRequest: 0 });
  let lastError: unknown;
  client.on("error", (error) => (lastError = error));
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new UnreachableError("Redis", redisUrl, reasonOf(lastError ?? error));
  } finally {
    client.disconnect();
  }
}

/** Routes a connection's errors and recoveries to the process's Redis outage log. */
export function watchRedis(client: { on(event: "error", listener: (error: Error) => void): unknown; on(event: "ready", listener: () => void): unknown }, outage: OutageLog): void {
  client.on("error", (error) => outage.failed(error));
  client.on("ready", () => outage.ok());
}
