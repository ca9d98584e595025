import { promises as fs } from "fs";
import { join } from "path";

/** Relative POSIX paths of the regular files under `root`, recursively, sorted; [] if it is missing. */
export async function walkFiles(root: string, prefix = ""): Promise<string[]> {
  let dirents;
  try {
    dirents = await fs.readdir(join(root, prefix), { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR") return [];
    throw e;
  }
  const out: string[] = [];
  for (const d of dirents) {
    const rel = prefix ? `${prefix}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...(await walkFiles(root, rel)));
    else if (d.isFile()) out.push(rel);
  }
  return out.sort();
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await fs.stat(path)).isDirectory();
  } catch {
    return false;
  }
}
