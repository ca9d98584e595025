import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import { KeptForReuse } from "../keptForReuse";

/**
 * SHA-256 of a byte stream, computed on a thread of its own.
 *
 * A merge hashes its output as it writes it (so the store need not read the file back). On the
 * merging thread that was ~67 ms per 106 MB, a fifth of the merge, while the other core mostly
 * waited for the disk. Here the merging thread only queues each piece: pieces that lie in shared
 * memory (the merge's output slots) are hashed where they are, by reference, and the caller keeps
 * them unchanged until `hashed` says they are done; other pieces are copied into a ring of shared
 * memory first. Copying into shared memory is slow in V8 (~1.5 GB/s here, about as slow as
 * hashing), so by reference is the point; the copies are for the small pieces in between.
 *
 * Queued pieces are descriptors in a ring of shared memory (buffer, offset, length); buffers are
 * made known to the thread once, over a message port it reads synchronously. The thread sleeps
 * on a signal word with `Atomics.wait` and is woken only when it sleeps; the caller waits (for
 * room, or for the digest) with `Atomics.waitAsync`, which never blocks its event loop.
 *
 * A hasher is used by one stream at a time. A finished one is kept for the next stream of this
 * thread for a while, since starting a thread costs tens of milliseconds; a kept one never holds
 * the process open. An abandoned one is ended.
 */
export interface BackgroundSha256 {
  /**
   * Queues bytes for hashing and returns a ticket for them (or a promise of it, when it had to
   * wait for room). With `byReference` and bytes in shared memory they are hashed in place, and
   * must not change until `hashed(ticket)`; otherwise they are copied and the caller may reuse
   * them at once.
   */
  update(bytes: Uint8Array, byReference: boolean): number | Promise<number>;
  /** Whether the bytes of `ticket` (and everything before them) are hashed. */
  hashed(ticket: number): boolean;
  /** Hex digest of everything queued, once hashed; the hasher is then kept for reuse (do not use this one again). */
  digest(): Promise<string>;
  /** Drops the stream and ends its thread (do not use it again). */
  abort(): void;
}

/** Bytes of the copy ring: a power of two, a few of a merge's small pieces. */
const RING_BYTES = 4 << 20;
/** Descriptors in flight at most. */
const SLOTS = 1024;
/** Fields per descriptor (Float64): buffer id, offset, length. */
const FIELDS = 3;

// Control words (Int32).
const SIGNAL = 0; // bumped by the caller after each change
const PUT = 1; // descriptors queued
const DONE = 2; // descriptors hashed
const COMMAND = 3; // 0 idle; DIGEST asks for the digest, the thread sets 0 back once it is out
const SLEEPING = 4; // 1 while the thread waits on SIGNAL
const CONTROL_WORDS = 5;
const DIGEST_BYTES = 32;
const COMMAND_DIGEST = 1;

/** How long a kept hasher waits for the next stream of this thread. */
const IDLE_MS = 30_000;
/** How often a waiting caller checks that the hashing thread is still there. */
const LIVENESS_MS = 1_000;
/** Bytes queued before a sleeping hashing thread is woken (chunks held for hashing wait that long at most). */
const WAKE_BYTES = 1 << 20;
/** Shared buffers a hasher knows at most; a hasher that met more is not kept (it holds them). */
const MAX_BUFFERS = 8;

/** `Atomics.waitAsync` (ES2024, in Node since 16), which this project's TypeScript library does not declare. */
const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

class Hasher implements BackgroundSha256 {
  readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly control: Int32Array;
  private readonly descriptors: Float64Array;
  private readonly digestOut: Uint8Array;
  private readonly ring: Uint8Array;
  private readonly ids = new Map<SharedArrayBuffer, number>();
  gone: Error | null = null;
  private inUse = false;
  /** Bytes queued since the sleeping thread was last woken. */
  private unwoken = 0;
  private put: number;
  private ringPut = 0;
  private ringFreed = 0;
  /** Copies in the ring not yet known to be hashed: their tickets and ring ends, in order. */
  private copies: Array<{ ticket: number; end: number }> = [];

  constructor() {
    const shared = new SharedArrayBuffer(CONTROL_WORDS * 8 + SLOTS * FIELDS * 8 + DIGEST_BYTES + RING_BYTES);
    this.control = new Int32Array(shared, 0, CONTROL_WORDS);
    this.descriptors = new Float64Array(shared, CONTROL_WORDS * 8, SLOTS * FIELDS);
    this.digestOut = new Uint8Array(shared, CONTROL_WORDS * 8 + SLOTS * FIELDS * 8, DIGEST_BYTES);
    const ringAt = CONTROL_WORDS * 8 + SLOTS * FIELDS * 8 + DIGEST_BYTES;
    this.ring = new Uint8Array(shared, ringAt, RING_BYTES);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(HASHER_SOURCE, { eval: true, workerData: { shared, ringAt, port: port2 }, transferList: [port2] });
    this.worker.on("error", (error) => {
      this.gone ??= new Error(`the hashing thread failed: ${error.message}`);
    });
    this.worker.once("exit", () => {
      this.gone ??= new Error("the hashing thread ended");
      kept.forget(this);
    });
    this.put = 0;
  }

  /** Starts a stream on this hasher. */
  begin(): this {
    this.inUse = true;
    this.worker.ref();
    return this;
  }

  /**
   * Tells the thread something changed. A sleeping thread is woken only once WAKE_BYTES are
   * queued (or `now`): waking a thread costs the caller ~30 µs here, as much as hashing 48 KB.
   */
  private signal(now: boolean, bytes = 0): void {
    Atomics.add(this.control, SIGNAL, 1);
    this.unwoken += bytes;
    if ((now || this.unwoken >= WAKE_BYTES) && Atomics.load(this.control, SLEEPING) === 1) {
      this.unwoken = 0;
      Atomics.notify(this.control, SIGNAL);
    }
  }

  /** Resolves once the word at `index` differs from `value` (throws if the thread is gone). */
  private async waitWhile(index: number, value: number): Promise<void> {
    while (Atomics.load(this.control, index) === value) {
      if (this.gone) throw this.gone;
      this.signal(true);
      const wait = waitAsync(this.control, index, value, LIVENESS_MS);
      if (wait.async) await wait.value;
    }
    if (this.gone) throw this.gone;
  }

  private idOf(buffer: SharedArrayBuffer): number {
    let id = this.ids.get(buffer);
    if (id === undefined) {
      id = this.ids.size + 1; // 0 is the ring
      this.ids.set(buffer, id);
      this.port.postMessage({ id, buffer });
    }
    return id;
  }

  /** Queues one descriptor (waiting for a free one if need be); returns its ticket. */
  private async describe(id: number, offset: number, length: number): Promise<number> {
    for (;;) {
      // Waits on the very value found full: a wait on a later one could sleep past the thread's last progress.
      const done = Atomics.load(this.control, DONE);
      if (this.put - done < SLOTS) break;
      await this.waitWhile(DONE, done);
    }
    return this.publish(id, offset, length);
  }

  private publish(id: number, offset: number, length: number): number {
    const at = (this.put % SLOTS) * FIELDS;
    this.descriptors[at] = id;
    this.descriptors[at + 1] = offset;
    this.descriptors[at + 2] = length;
    this.put++;
    Atomics.store(this.control, PUT, this.put);
    this.signal(false, length);
    return this.put;
  }

  /** Frees the ring space of copies already hashed. */
  private reclaim(): void {
    const done = Atomics.load(this.control, DONE);
    let i = 0;
    while (i < this.copies.length && this.copies[i].ticket <= done) this.ringFreed = this.copies[i++].end;
    if (i > 0) this.copies.splice(0, i);
  }

  update(bytes: Uint8Array, byReference: boolean): number | Promise<number> {
    if (!this.inUse) throw new Error("this hash stream has finished");
    if (this.gone) throw this.gone;
    if (bytes.byteLength === 0) return this.put;
    if (byReference && bytes.buffer instanceof SharedArrayBuffer) {
      const id = this.idOf(bytes.buffer);
      if (this.put - Atomics.load(this.control, DONE) < SLOTS) return this.publish(id, bytes.byteOffset, bytes.byteLength);
      return this.describe(id, bytes.byteOffset, bytes.byteLength);
    }
    return this.copy(bytes);
  }

  /** Copies `bytes` into the ring piece by piece as room frees up; the ticket of the last piece. */
  private copy(bytes: Uint8Array): number | Promise<number> {
    let done = Atomics.load(this.control, DONE);
    let { taken, ticket } = this.copySome(bytes);
    if (taken === bytes.byteLength) return ticket;
    return (async () => {
      for (;;) {
        // `done` was read before the attempt that found no room: waiting on it cannot sleep past progress.
        await this.waitWhile(DONE, done);
        done = Atomics.load(this.control, DONE);
        const more = this.copySome(bytes.subarray(taken));
        if (more.taken > 0) ticket = more.ticket;
        taken += more.taken;
        if (taken === bytes.byteLength) return ticket;
      }
    })();
  }

  /** Copies what fits of `bytes` into the ring now; how much, and the ticket of the last piece. */
  private copySome(bytes: Uint8Array): { taken: number; ticket: number } {
    let at = 0;
    let ticket = this.put;
    while (at < bytes.byteLength) {
      this.reclaim();
      const room = RING_BYTES - (this.ringPut - this.ringFreed);
      if (room === 0 || this.put - Atomics.load(this.control, DONE) >= SLOTS) break;
      const position = this.ringPut % RING_BYTES;
      const n = Math.min(bytes.byteLength - at, room, RING_BYTES - position);
      this.ring.set(bytes.subarray(at, at + n), position);
      at += n;
      this.ringPut += n;
      ticket = this.publish(0, position, n);
      this.copies.push({ ticket, end: this.ringPut });
    }
    return { taken: at, ticket };
  }

  hashed(ticket: number): boolean {
    return Atomics.load(this.control, DONE) >= ticket;
  }

  async digest(): Promise<string> {
    if (!this.inUse) throw new Error("this hash stream has finished");
    Atomics.store(this.control, COMMAND, COMMAND_DIGEST);
    this.signal(true);
    try {
      await this.waitWhile(COMMAND, COMMAND_DIGEST);
    } catch (error) {
      this.inUse = false;
      throw error;
    }
    const hex = Buffer.from(this.digestOut).toString("hex");
    this.inUse = false;
    this.copies = [];
    this.ringFreed = this.ringPut;
    keep(this);
    return hex;
  }

  abort(): void {
    if (!this.inUse) return;
    this.inUse = false;
    // Descriptors may still be queued for this stream: the thread is not reused.
    void this.worker.terminate();
  }

  get knownBuffers(): number {
    return this.ids.size;
  }
}

/** The hasher kept for this thread's next stream. */
const kept = new KeptForReuse<Hasher>(IDLE_MS, (hasher) => void hasher.worker.terminate());

/** A hasher for one stream: the kept one of this thread when there is one, else a new thread. */
export function startBackgroundSha256(): BackgroundSha256 {
  const reuse = kept.take();
  return (reuse && !reuse.gone ? reuse : new Hasher()).begin();
}

/** Keeps a hasher whose stream is over for the next one (not one that holds many buffers). */
function keep(hasher: Hasher): void {
  hasher.worker.unref();
  if (hasher.gone) return;
  if (hasher.knownBuffers > MAX_BUFFERS) void hasher.worker.terminate();
  else kept.keep(hasher);
}

/**
 * The hashing thread: hashes the queued pieces in order, answers a digest request once it has
 * caught up (so the digest covers every piece queued before it was asked for), and sleeps on
 * SIGNAL when there is nothing to do. A piece in a buffer it does not know yet waits for that
 * buffer's message, sent before the piece was queued.
 */
const HASHER_SOURCE = `
const { workerData, receiveMessageOnPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { shared, ringAt, port } = workerData;
const control = new Int32Array(shared, 0, ${CONTROL_WORDS});
const descriptors = new Float64Array(shared, ${CONTROL_WORDS * 8}, ${SLOTS * FIELDS});
const digestOut = new Uint8Array(shared, ${CONTROL_WORDS * 8 + SLOTS * FIELDS * 8}, ${DIGEST_BYTES});
const buffers = [shared];
const bases = [ringAt];
let hash = createHash("sha256");
let done = Atomics.load(control, ${DONE});
for (;;) {
  const seen = Atomics.load(control, ${SIGNAL});
  if (Atomics.load(control, ${PUT}) !== done) {
    const at = (done % ${SLOTS}) * ${FIELDS};
    const id = descriptors[at];
    while (buffers[id] === undefined) {
      const message = receiveMessageOnPort(port);
      if (!message) throw new Error("a piece names buffer " + id + ", which was never sent");
      buffers[message.message.id] = message.message.buffer;
      bases[message.message.id] = 0;
    }
    hash.update(new Uint8Array(buffers[id], bases[id] + descriptors[at + 1], descriptors[at + 2]));
    done++;
    Atomics.store(control, ${DONE}, done);
    Atomics.notify(control, ${DONE});
    continue;
  }
  if (Atomics.load(control, ${COMMAND}) === ${COMMAND_DIGEST}) {
    digestOut.set(hash.digest());
    hash = createHash("sha256");
    Atomics.store(control, ${COMMAND}, 0);
    Atomics.notify(control, ${COMMAND});
    continue;
  }
  Atomics.store(control, ${SLEEPING}, 1);
  if (Atomics.load(control, ${SIGNAL}) === seen) Atomics.wait(control, ${SIGNAL}, seen);
  Atomics.store(control, ${SLEEPING}, 0);
}
`;
