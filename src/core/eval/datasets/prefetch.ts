import { badInput } from "../../errors";

/**
 * Keeps `depth` items of `source` requested ahead while the consumer works on one, so decoding the next
 * samples overlaps with inference on the current one. Memory is bounded by `depth` samples; order
 * and errors are those of the source.
 */
export async function* prefetch<T>(source: AsyncIterable<T>, depth: number): AsyncGenerator<T> {
  if (!Number.isInteger(depth) || depth < 1) throw badInput(`prefetch depth must be a positive integer, got ${depth}`);
  const it = source[Symbol.asyncIterator]();
  const queue: Promise<IteratorResult<T>>[] = [];
  let finished = false;
  const fill = () => {
    while (!finished && queue.length < depth) {
      const next = it.next();
      // Rejections surface when the consumer reaches that item; this only silences the
      // "unhandled rejection" report while it waits in the queue.
      next.catch(() => undefined);
      queue.push(next);
    }
  };
  try {
    fill();
    for (;;) {
      const r = await queue.shift()!;
      if (r.done) {
        finished = true;
        return;
      }
      fill();
      yield r.value;
    }
  } finally {
    if (!finished) await it.return?.();
  }
}
