import { main } from "../../src/cli/main";

/** Runs the CLI in this process with `env` added, capturing what it prints (console and progress bars). */
export async function cli(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const log = jest.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
  const error = jest.spyOn(console, "error").mockImplementation((...a) => void err.push(a.join(" ")));
  const write = jest.spyOn(process.stderr, "write").mockImplementation((chunk: any) => (err.push(String(chunk)), true));
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return { code: await main(args), out: out.join("\n"), err: err.join("\n") };
  } finally {
    process.env = saved;
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}
