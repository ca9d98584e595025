import { execFileSync } from "child_process";
import { readFileSync } from "fs";
import { JOB_ALLOCATOR_TUNABLES, withAllocatorTuning } from "./allocatorTuning";

describe("job processes' allocator settings", () => {
  it("are added on Linux, keep a GLIBC_TUNABLES already set, and are left out when switched off or elsewhere", () => {
    expect(withAllocatorTuning({ PATH: "/bin" }, "linux")).toEqual({ PATH: "/bin", GLIBC_TUNABLES: JOB_ALLOCATOR_TUNABLES });
    expect(withAllocatorTuning({ GLIBC_TUNABLES: "glibc.malloc.arena_max=1" }, "linux")).toEqual({ GLIBC_TUNABLES: "glibc.malloc.arena_max=1" });
    expect(withAllocatorTuning({ LAYERMERGE_MALLOC_TUNING: "off" }, "linux")).toEqual({ LAYERMERGE_MALLOC_TUNING: "off" });
    expect(withAllocatorTuning({}, "darwin")).toEqual({});
    // the values glibc reads: 32 MiB, never trim, 256 MiB of top padding, huge pages where the kernel allows them
    expect(JOB_ALLOCATOR_TUNABLES.split(":")).toEqual(["glibc.malloc.mmap_threshold=33554432", "glibc.malloc.trim_threshold=4294967295", "glibc.malloc.top_pad=268435456", "glibc.malloc.hugetlb=1"]);
  });

  // A process started with the settings gets huge pages for a large buffer it fills (read from
  // the kernel's own accounting); one started without them, on a kernel in `madvise` mode, does not.
  const thp = (() => {
    try {
      return /\[(\w+)\]/.exec(readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "utf8"))?.[1] ?? "never";
    } catch {
      return "never";
    }
  })();
  const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;
  const hugeOk = process.platform === "linux" && thp === "madvise" && glibc !== undefined && Number(glibc.split(".")[1]) >= 35;
  (hugeOk ? it : it.skip)("give a job process transparent huge pages for the memory it fills (kernel THP mode madvise, glibc ≥ 2.35)", () => {
    const script = `const b = new Float32Array(48 * 2 ** 20 / 4); for (let i = 0; i < b.length; i += 1024) b[i] = i;
      const kb = Number(/AnonHugePages:\\s+(\\d+)/.exec(require("fs").readFileSync("/proc/self/smaps_rollup", "utf8"))[1]);
      process.stdout.write(String(kb) + " " + b[1024]);`;
    const run = (env: NodeJS.ProcessEnv) => execFileSync(process.execPath, ["-e", script], { env, encoding: "utf8" }).split(" ").map(Number)[0]!;
    const base = { PATH: process.env.PATH ?? "" };
    expect(run(withAllocatorTuning(base, "linux"))).toBeGreaterThanOrEqual(32 * 1024);
    expect(run({ ...base, GLIBC_TUNABLES: JOB_ALLOCATOR_TUNABLES.replace(":glibc.malloc.hugetlb=1", "") })).toBeLessThan(8 * 1024);
  });
});
