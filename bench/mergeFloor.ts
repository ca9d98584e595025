/**
 * The I/O floor bench:merge compares the merge against: the reads and the write any merge of
 * these inputs must do, overlapped as the merge overlaps them, with no arithmetic.
 *
 * Every input is read once, front to back, in 4 MiB chunks: one chunk of every input at a time,
 * all in flight together. The output (as many bytes as the merge writes) goes through the
 * product's own file sink (`openFileSink`) with the settings the merge opens it with: writes in
 * the background (one writev in flight, at most 4 MiB pending), a background fdatasync every
 * 32 MiB written, and a final fsync on close. While chunk i is being written, chunk i + 1 of
 * every input is being read. Chunks are written from the buffers they were read into, without a
 * copy, and reused once the sink hands them back.
 *
 * Reads either go to libuv's pool, every input's chunk in flight at once ("concurrent"), or are
 * synchronous preads on this thread while the sink's write is in flight ("sync"), as the merge
 * reads its chunks. Which is faster depends on the machine's load: the bench takes the faster.
 */
import * as fs from "node:fs";
import { openFileSink } from "../src/core/formats/fileSink";

const CHUNK = 4 << 20;

/** The merge's sink settings (src/threads/runMerge.ts): default buffer and sync interval, 4 MiB pending. */
const SINK_MAX_PENDING = 4 << 20;

export type FloorReads = "concurrent" | "sync";

function readChunk(fd: number, into: Buffer, position: number, reads: FloorReads): Promise<number> {
  if (reads === "sync") {
    let done = 0;
    while (done < into.byteLength) {
      const n = fs.readSync(fd, into, done, into.byteLength - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return Promise.resolve(done);
  }
  return new Promise((resolve, reject) => {
    const step = (done: number) => {
      if (done === into.byteLength) return resolve(done);
      fs.read(fd, into, done, into.byteLength - done, position + done, (error, n) => {
        if (error) return reject(error);
        if (n === 0) return resolve(done);
        step(done + n);
      });
    };
    step(0);
  });
}

export async function overlappedIoFloor(inputs: string[], outFile: string, outputBytes: number, reads: FloorReads): Promise<{ ms: number; cpuMs: number; reads: FloorReads }> {
  const free: Buffer[] = [];
  const take = () => free.pop() ?? Buffer.allocUnsafe(CHUNK);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const fds = inputs.map((f) => fs.openSync(f, "r"));
  const sink = await openFileSink(outFile, undefined, { onReleased: (chunk) => {
      if (chunk.byteLength === CHUNK) free.push(chunk as Buffer);
    }, maxPendingBytes: SINK_MAX_PENDING });
  try {
    const sizes = fds.map((fd) => fs.fstatSync(fd).size);
    const longest = Math.max(...sizes);
    /** Chunk `position` of every input that still has bytes there, read concurrently. */
    const readStep = (position: number): Promise<Array<{ buffer: Buffer; n: number }>> =>
      Promise.all(
        fds.flatMap((fd, i) => {
          if (position >= sizes[i]) return [];
          const buffer = take();
          return [readChunk(fd, buffer, position, reads).then((n) => ({ buffer, n }))];
        }),
      );
    let written = 0;
    let next = readStep(0);
    for (let position = 0; position < longest || written < outputBytes; position += CHUNK) {
      const chunks = await next;
      next = position + CHUNK < longest ? readStep(position + CHUNK) : Promise.resolve([]);
      // The anchor's chunk (or any buffer, past its end) carries the output's next bytes; the rest are free again.
      const out = chunks[0]?.buffer ?? take();
      for (const c of chunks) if (c.buffer !== out) free.push(c.buffer);
      const n = Math.min(CHUNK, outputBytes - written);
      if (n > 0) {
        written += n;
        await sink.write(out.subarray(0, n));
      } else free.push(out);
    }
    await next;
    await sink.close();
  } catch (error) {
    await sink.abort();
    throw error;
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  fs.rmSync(outFile, { force: true });
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, reads };
}
