import IORedis from "ioredis";
import type { JobEvents, JobEventMessage } from "./jobEvents";
import { UnreachableError, reasonOf, type OutageLog } from "../outage";
import { commandFailed, redisOptions, watchRedis } from "./redisConnection";

/**
 * Bridges JobEvents over Redis pub/sub: every process publishes to one channel and delivers what
 * it receives, so a worker's progress reaches subscribers on any API process and a cancel reaches
 * the worker running the job.
 *
 * Events are notifications; the database holds every job's state. While Redis is down a
 * publication is dropped at once (no offline queue growing without bound, no unhandled
 * rejection), the outage is logged once, and the subscription resumes when Redis is back.
 */
export async function connectRedisJobEvents(events: JobEvents, redisUrl: string, channel: string, outage: OutageLog): Promise<() => Promise<void>> {
  const pub = new IORedis({ ...redisOptions(redisUrl), lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const sub = new IORedis({ ...redisOptions(redisUrl), lazyConnect: true });
  watchRedis(pub, outage, "events-publish");
  watchRedis(sub, outage, "events-subscribe");
  try {
    await Promise.all([pub.connect(), sub.connect()]);
    await sub.subscribe(channel);
  } catch (error) {
    pub.disconnect();
    sub.disconnect();
    throw new UnreachableError("Redis", redisUrl, reasonOf(error));
  }
  // Publications made while the subscription was down are lost; when it is back (it
  // resubscribes by itself), streams read their job's state again.
  sub.on("ready", () => events.resync());
  sub.on("message", (_channel, raw) => {
    try {
      events.deliver(JSON.parse(raw) as JobEventMessage);
    } catch {
      // A malformed message from another deployment sharing the channel: ignore it.
    }
  });
  events.useTransport((message) => {
    pub.publish(channel, JSON.stringify(message)).then(
      () => outage.ok(),
      (error) => commandFailed(outage, error, "job events are not delivered until it is back"),
    );
  });
  // QUIT goes through the offline queue while Redis is down: drop the connection instead.
  const close = async (client: IORedis) => (client.status === "ready" ? client.quit().then(() => undefined, () => client.disconnect()) : client.disconnect());
  return async () => {
    await close(sub);
    await close(pub);
  };
}
