/** Functions for watchedThread.test.ts, run in a thread of their own. */
export function count(args: { n: number }, progress: (label: string) => void): number {
  let sum = 0;
  for (let i = 0; i < args.n; i++) {
    progress(`item ${i}`);
    sum += i;
  }
  return sum;
}

export function spin(args: { after: number }, progress: (label: string) => void): never {
  for (let i = 0; i < args.after; i++) progress(`item ${i}`);
  for (;;) {
    // a parse that never ends
  }
}

export function fail(): never {
  throw new Error("the function failed");
}
