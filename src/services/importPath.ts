import * as fs from "node:fs/promises";
import * as path from "node:path";
import { badInput, DomainError } from "../core/errors";

/**
 * Resolves a path given for import and checks that it lies under one of the configured roots
 * after every symlink is resolved (a link inside a root pointing outside it is refused).
 */
export async function resolveImportPath(given: string, roots: readonly string[], field = "input.path"): Promise<string> {
  if (roots.length === 0) {
    throw new DomainError("FORBIDDEN", "importing from a server path is disabled; set LAYERMERGE_IMPORT_ROOTS to the folders that may be read, or upload with PUT /artifacts", { field });
  }
  if (!path.isAbsolute(given)) throw badInput(`${field} must be an absolute path`, field);
  let real: string;
  try {
    real = await fs.realpath(given);
  } catch {
    throw badInput(`${field}: no file at ${given}`, field);
  }
  const realRoots = await Promise.all(roots.map((r) => fs.realpath(r).catch(() => path.resolve(r))));
  const inside = realRoots.some((root) => real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep));
  if (!inside) throw new DomainError("FORBIDDEN", `${given} is outside the import roots (LAYERMERGE_IMPORT_ROOTS)`, { field });
  const stat = await fs.stat(real);
  if (!stat.isFile()) throw badInput(`${field}: ${given} is not a regular file`, field);
  return real;
}
