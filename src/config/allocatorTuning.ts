/**
 * glibc malloc settings for processes that run jobs (GLIBC_TUNABLES, read by glibc when a process
 * starts, so they are given to a process as it is started): allocations up to 32 MiB come from
 * the heap instead of fresh mappings, and freed memory is kept rather than returned to the kernel.
 *
 * Why: onnxruntime gives each session its own memory arena and frees it when the session is
 * released. A merge search opens a session per candidate, and with glibc's defaults every new
 * session's activations (~100 MB for a 512² net) were fresh pages: its first runs took 220–650 ms
 * against 30–35 steady, page faults all. With these settings the memory of the previous session
 * is reused and the first run is as fast as the rest (bench:search, 512² nets: 11.2–13.4 s per
 * search against 16.4–18.0 s). The price is a resident size that stays near its peak.
 *
 * `hugetlb=1` has glibc ask for transparent huge pages on the memory it maps (where the kernel's
 * THP mode is `madvise` or `always`; glibc before 2.35 ignores the setting): memory a process has
 * not used yet — a new inference thread's arena, onnxruntime's first activations, the 20 MB
 * logits of a 512² net — is then faulted in 2 MiB at a time instead of 4 KiB. Measured on the
 * 512² benchmark net, an evaluation right after others in the same process spent 465–532 ms on
 * its first images beyond the steady pace without it and 84–109 ms with it.
 *
 * `LAYERMERGE_MALLOC_TUNING=off` leaves the environment as it is; a GLIBC_TUNABLES the user set
 * is kept. Elsewhere than Linux (no glibc) nothing is set.
 */
export const JOB_ALLOCATOR_TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967295:glibc.malloc.top_pad=268435456:glibc.malloc.hugetlb=1";

export function withAllocatorTuning(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): NodeJS.ProcessEnv {
  if (platform !== "linux" || env.LAYERMERGE_MALLOC_TUNING === "off" || env.GLIBC_TUNABLES) return env;
  return { ...env, GLIBC_TUNABLES: JOB_ALLOCATOR_TUNABLES };
}
