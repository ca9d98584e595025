import { parentPort, workerData } from "node:worker_threads";
import { sessionThreads } from "../../openSession";
import { recycleOutput, SearchSession, spareOutputBytes } from "../searchSession";

/*
 * Runs in a worker thread (as a search's candidates do; onnxruntime's results cannot cross into a
 * test runner's sandbox realm): four runs of a SearchSession on `workerData.file`, the second's
 * output given back after it was read. Posts each run's values, how many buffers the four
 * outputs have between them, and the recycled memory this thread keeps after each run.
 */
const { file, contract } = workerData as { file: string; contract: never };
const image = (base: number) => ({ width: 2, height: 2, channels: 3, data: Uint8Array.from({ length: 12 }, (_, i) => base + i) });

(async () => {
  const session = await SearchSession.open(file, contract, 3, sessionThreads(1));
  try {
    const values = (o: { map: { data: ArrayLike<number> } }) => Array.from(o.map.data);
    const sparePerRun: number[] = [];
    const first = await session.run(image(10));
    sparePerRun.push(spareOutputBytes());
    const second = await session.run(image(50));
    sparePerRun.push(spareOutputBytes());
    const secondValues = values(second);
    recycleOutput(second);
    const spareAfterGivingBack = spareOutputBytes();
    const third = await session.run(image(90));
    sparePerRun.push(spareOutputBytes());
    const thirdValues = values(third);
    const fourth = await session.run(image(130));
    sparePerRun.push(spareOutputBytes());
    const outputs = [first, second, third, fourth];
    parentPort!.postMessage({
      // each read right after its run, and all again at the end
      values: [values(first), secondValues, thirdValues, values(fourth)],
      atEnd: outputs.map(values),
      distinctBuffers: new Set(outputs.map((o) => o.map.data.buffer)).size,
      sparePerRun,
      spareAfterGivingBack,
    });
  } finally {
    await session.release();
  }
})().catch((error) => parentPort!.postMessage({ error: (error as Error).stack }));
