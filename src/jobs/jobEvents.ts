import { EventEmitter } from "node:events";
import type { JobProgress } from "./jobTypes";

/**
 * Job updates within one process (GraphQL subscriptions listen here). The distributed shape
 * bridges this to Redis pub/sub so updates from any worker reach every API process.
 */
export class JobEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  publish(update: JobProgress): void {
    this.emitter.emit(update.id, update);
    this.emitter.emit("*", update);
  }

  subscribe(jobId: string | "*", listener: (update: JobProgress) => void): () => void {
    this.emitter.on(jobId, listener);
    return () => this.emitter.off(jobId, listener);
  }
}
