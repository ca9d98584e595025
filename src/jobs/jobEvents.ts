import { EventEmitter } from "node:events";
import type { JobProgress } from "./jobTypes";

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

/**
 * Job updates. Handlers `publish`; subscribers (GraphQL `jobUpdated`, the CLI) listen locally.
 * In the embedded shape publish delivers in-process; in the distributed shape a Redis bridge
 * (redisJobEvents.ts) replaces the transport so updates from any worker reach every API process,
 * and cancellations reach the worker that runs the job.
 */
export class JobEvents {
  private readonly emitter = new EventEmitter();
  private transport: ((message: JobEventMessage) => void) | null = null;

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  /** Route publications through another transport (which must call `deliver`). */
  useTransport(send: (message: JobEventMessage) => void): void {
    this.transport = send;
  }

  publish(update: JobProgress): void {
    const message: JobEventMessage = { type: "update", update };
    if (this.transport) this.transport(message);
    else this.deliver(message);
  }

  /** Asks whichever process runs the job to stop it. */
  requestCancel(jobId: string): void {
    const message: JobEventMessage = { type: "cancel", jobId };
    if (this.transport) this.transport(message);
    else this.deliver(message);
  }

  deliver(message: JobEventMessage): void {
    if (message.type === "update") {
      this.emitter.emit(`update:${message.update.id}`, message.update);
      this.emitter.emit("update:*", message.update);
    } else {
      this.emitter.emit(`cancel:${message.jobId}`);
    }
  }

  /**
   * Updates may have been lost (the transport was down): every live `iterate` reads its job's
   * state again, so a job that ended meanwhile still ends its stream.
   */
  resync(): void {
    this.emitter.emit("resync");
  }

  subscribe(jobId: string | "*", listener: (update: JobProgress) => void): () => void {
    this.emitter.on(`update:${jobId}`, listener);
    return () => this.emitter.off(`update:${jobId}`, listener);
  }

  onCancel(jobId: string, listener: () => void): () => void {
    this.emitter.on(`cancel:${jobId}`, listener);
    return () => this.emitter.off(`cancel:${jobId}`, listener);
  }

  /**
   * Updates of one job as an async iterator, starting with its current state, ending
   * after a terminal status. Buffered: a slow consumer misses nothing but intermediate progress.
   */
  async *iterate(jobId: string, loadInitial: () => Promise<JobProgress | null>): AsyncGenerator<JobProgress> {
    const queue: JobProgress[] = [];
    let wake: (() => void) | null = null;
    const receive = (u: JobProgress) => {
      // Keep the latest progress of a run, but never drop a status change.
      const last = queue[queue.length - 1];
      if (last && last.status === u.status && !TERMINAL.has(u.status)) queue[queue.length - 1] = u;
      else queue.push(u);
      wake?.();
    };
    const off = this.subscribe(jobId, receive);
    const reload = () => {
      loadInitial().then((state) => state && receive(state), () => undefined);
    };
    this.emitter.on("resync", reload);
    try {
      // Subscribed before reading the current state, so no change between the two is lost.
      const initial = await loadInitial();
      if (initial) {
        yield initial;
        if (TERMINAL.has(initial.status)) return;
      }
      for (;;) {
        while (queue.length) {
          const u = queue.shift()!;
          yield u;
          if (TERMINAL.has(u.status)) return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    } finally {
      off();
      this.emitter.off("resync", reload);
    }
  }
}

export type JobEventMessage = { type: "update"; update: JobProgress } | { type: "cancel"; jobId: string };
