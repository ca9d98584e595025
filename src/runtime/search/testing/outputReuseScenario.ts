import { parentPort, workerData } from "node:worker_threads";
import { sessionThreads } from "../../openSession";
import { recycleOutput, SearchSession } from "../searchSession";

/*
 * Runs in a worker thread (as a search's candidates do; onnxruntime's results cannot cross into a
 * test runner's sandbox realm): four runs of a SearchSession on `workerData.file`, the second's
 * output given back after it was read. Posts each run's values and which runs share memory.
 */
const { file, contract } = workerData as { file: string; contract: never };
const image = (base: number) => ({ width: 2, height: 2, channels: 3, data: Uint8Array.from({ length: 12 }, (_, i) => base + i) });

(async () => {
  const session = await SearchSession.open(file, contract, 3, sessionThreads(1));
  try {
    const values = (o: { map: { data: ArrayLike<number> } }) => Array.from(o.map.data);
    const first = await session.run(image(10));
    const second = await session.run(image(50));
    const secondValues = values(second);
    const memory = second.map.data.buffer;
    recycleOutput(second);
    const third = await session.run(image(90));
    const thirdValues = values(third);
    const fourth = await session.run(image(130));
    parentPort!.postMessage({
      // each read right after its run, and the first and third again at the end
      values: [values(first), secondValues, thirdValues, values(fourth)],
      atEnd: [values(first), values(third)],
      thirdReusedSecond: third.map.data.buffer === memory,
      fourthReusedSecond: fourth.map.data.buffer === memory,
    });
  } finally {
    await session.release();
  }
})().catch((error) => parentPort!.postMessage({ error: (error as Error).stack }));
