import { JOB_ALLOCATOR_TUNABLES, withAllocatorTuning } from "./allocatorTuning";

describe("job processes' allocator settings", () => {
  it("are added on Linux, keep a GLIBC_TUNABLES already set, and are left out when switched off or elsewhere", () => {
    expect(withAllocatorTuning({ PATH: "/bin" }, "linux")).toEqual({ PATH: "/bin", GLIBC_TUNABLES: JOB_ALLOCATOR_TUNABLES });
    expect(withAllocatorTuning({ GLIBC_TUNABLES: "glibc.malloc.arena_max=1" }, "linux")).toEqual({ GLIBC_TUNABLES: "glibc.malloc.arena_max=1" });
    expect(withAllocatorTuning({ LAYERMERGE_MALLOC_TUNING: "off" }, "linux")).toEqual({ LAYERMERGE_MALLOC_TUNING: "off" });
    expect(withAllocatorTuning({}, "darwin")).toEqual({});
    // the values glibc reads: 32 MiB, never trim, 256 MiB of top padding
    expect(JOB_ALLOCATOR_TUNABLES.split(":")).toEqual(["glibc.malloc.mmap_threshold=33554432", "glibc.malloc.trim_threshold=4294967295", "glibc.malloc.top_pad=268435456"]);
  });
});
