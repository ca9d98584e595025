import * as fs from "node:fs/promises";
import { badInput } from "../core/errors";
import { confinePath } from "./pathConfinement";

/**
 * Resolves a file given for import by path: confined to LAYERMERGE_IMPORT_ROOTS (decided from the
 * path alone, symlinks resolved; see `confinePath`), then it must be a regular file.
 */
export async function resolveImportPath(given: string, roots: readonly string[], field = "input.path"): Promise<string> {
  const real = await confinePath(given, { roots, variable: "LAYERMERGE_IMPORT_ROOTS", what: "import roots", field,
    disabled: "importing from a server path is disabled; set LAYERMERGE_IMPORT_ROOTS to the folders that may be read, or upload with PUT /artifacts",
  });
  const stat = await fs.stat(real).catch(() => null);
  if (!stat) throw badInput(`${field}: no file at ${given}`, field);
  if (!stat.isFile()) throw badInput(`${field}: ${given} is not a regular file`, field);
  return real;
}
