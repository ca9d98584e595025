import IORedis from "ioredis";
import type { JobEvents, JobEventMessage } from "./jobEvents";

/**
 * Bridges JobEvents over Redis pub/sub: every process publishes to one channel and delivers what
 * it receives, so a worker's progress reaches subscribers on any API process and a cancel reaches
 * the worker running the job.
 */
export async function connectRedisJobEvents(events: JobEvents, redisUrl: string, channel: string): Promise<() => Promise<void>> {
  const pub = new IORedis(redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  const sub = new IORedis(redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  await Promise.all([pub.connect(), sub.connect()]);
  await sub.subscribe(channel);
  sub.on("message", (_channel, raw) => {
    try {
      events.deliver(JSON.parse(raw) as JobEventMessage);
    } catch {
      // A malformed message from another deployment sharing the channel: ignore it.
    }
  });
  events.useTransport((message) => void pub.publish(channel, JSON.stringify(message)));
  return async () => {
    await sub.quit().catch(() => undefined);
    await pub.quit().catch(() => undefined);
  };
}
