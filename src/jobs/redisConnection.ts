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

/**
 * Routes one connection's failures and recoveries to the process's Redis outage log, under its
 * own name (see OutageLog: the outage lasts while any connection is down).
 */
export function watchRedis(client: IORedis, outage: OutageLog, name: string): void {
  client.on("error", (error) => outage.connectionFailed(name, error));
  client.on("ready", () => outage.connectionReady(name));
}

/**
 * Whether a command failed because its connection is down or closing (ioredis's own errors)
 * rather than because Redis refused it or did not answer in time. Those are reported by the
 * connection itself (watchRedis), not by each command.
 */
export function isRedisConnectionError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code === "string" && /^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$/.test(e.code)) return true;
  if ((e as { name?: unknown } | null)?.name === "MaxRetriesPerRequestError") return true;
  return typeof e?.message === "string" && /Connection is closed|Stream isn't writeable|enableOfflineQueue|max retries per request|ECONNREFUSED|ECONNRESET/i.test(e.message);
}

/** A Redis command failed: counted as an outage only when its connection does not say so itself. */
export function commandFailed(outage: OutageLog, error: unknown, consequence?: string): void {
  if (!isRedisConnectionError(error)) outage.failed(error, consequence);
}
