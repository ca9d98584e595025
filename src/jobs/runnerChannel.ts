import type { Logger } from "../logging";
import type { JobEvents } from "./jobEvents";
import type { EmbeddedJobRunner } from "./embeddedJobRunner";
import type { FromRunner, ToRunner } from "./childJobRunner";

/** Sends a message to the API process; dropped when it is gone (this process is stopping then). */
export function toApi(message: FromRunner): void {
  if (process.connected) process.send!(message, undefined, undefined, () => undefined);
}

/** The configuration the API process sends as its first message (ChildJobRunner); its type is the config layer's. */
export function receiveConfig(): Promise<unknown> {
  if (!process.send) return Promise.reject(new Error("the job runner must be started by `layermerge serve` (it talks to it over IPC)"));
  return new Promise((resolve, reject) => {
    const onMessage = (message: ToRunner) => {
      if (message.type !== "config") return;
      process.off("message", onMessage);
      process.off("disconnect", onGone);
      resolve(message.config);
    };
    const onGone = () => reject(new Error("the API process went away before sending the configuration"));
    process.on("message", onMessage);
    process.once("disconnect", onGone);
  });
}

/**
 * The job-runner child's side of its IPC channel with the API process (ChildJobRunner is the
 * other): job events go up to the API's subscribers, nudges come down to the runner. The child
 * stops when asked, and also when the channel closes — the API process is gone, and a runner
 * without its API would be an orphan.
 */
export function serveRunnerChannel(runner: EmbeddedJobRunner, events: JobEvents, logger: Logger, stop: () => Promise<void>): void {
  if (!process.send) throw new Error("the job runner must be started by `layermerge serve` (it talks to it over IPC)");
  events.useTransport((message) => toApi({ type: "event", message }));
  let stopping: Promise<void> | null = null;
  const stopOnce = (why: string) => {
    if (!stopping) {
      logger.info({ why }, "job runner stopping");
      stopping = stop().then(
        () => process.exit(0),
        (error) => {
          logger.error({ err: error }, "job runner did not stop cleanly");
          process.exit(1);
        },
      );
    }
    return stopping;
  };
  process.on("message", (message: ToRunner) => {
    if (message.type === "config") return; // read at start (receiveConfig)
    if (message.type === "enqueue") void runner.enqueue("");
    else if (message.type === "cancel") runner.abort(message.jobId);
    else if (message.type === "stop") void stopOnce("asked by the API process");
  });
  process.on("disconnect", () => void stopOnce("the API process is gone"));
  // Signals go to the whole process group (a terminal's Ctrl-C): the API process asks for the stop.
  process.on("SIGINT", () => undefined);
  process.on("SIGTERM", () => void stopOnce("SIGTERM"));
}
