import * as fs from "node:fs/promises";
import * as path from "node:path";
import { badInput, DomainError } from "../core/errors";

/** Which configured folders a kind of server path must lie under, and how to name them. */
export interface PathRule {
  roots: readonly string[];
  /** The configuration variable that sets the roots, named in every refusal. */
  variable: string;
  /** "import roots", "dataset roots": how the refusal names them. */
  what: string;
  field: string;
  /** The refusal when no roots are configured. */
  disabled: string;
}

/**
 * Confines a server path given by a client to the configured roots, and returns the path to read:
 * the given path with every existing symlink resolved (what the server will open).
 *
 * FORBIDDEN is decided from the path alone, before anything reveals whether the path exists: a
 * path outside the roots is refused the same way whether or not there is anything there, so the
 * answer is no oracle for the rest of the file system. First lexically (`..` normalised away; a
 * path outside every root is refused without touching the disk), then after resolving the longest
 * existing prefix with realpath (a symlink inside a root pointing outside it is refused; the
 * missing remainder cannot contain links). An entry that exists but cannot be resolved (a dangling
 * or looping link) cannot be shown to stay inside, so it is refused too. Callers check existence
 * and type only on the returned path.
 */
export async function confinePath(given: unknown, rule: PathRule): Promise<string> {
  const { roots, variable, what, field } = rule;
  if (roots.length === 0) throw new DomainError("FORBIDDEN", rule.disabled, { field });
  if (typeof given !== "string" || !path.isAbsolute(given) || given.includes("\0")) throw badInput(`${field} must be an absolute path`, field);
  const outside = () => new DomainError("FORBIDDEN", `${given} is outside the ${what} (${variable})`, { field });

  const lexical = path.resolve(given);
  const lexicalRoots = roots.map((r) => path.resolve(r));
  const realRoots = await Promise.all(lexicalRoots.map((r) => resolveExisting(r).then((x) => x ?? r)));
  if (!lexicalRoots.some((r) => within(lexical, r)) && !realRoots.some((r) => within(lexical, r))) throw outside();

  const real = await resolveExisting(lexical);
  if (real === null || !realRoots.some((r) => within(real, r))) throw outside();
  return real;
}

function within(candidate: string, root: string): boolean {
  if (candidate === root) return true;
  return candidate.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/**
 * `p` with the symlinks of its longest existing prefix resolved, the missing rest appended; null
 * when an entry exists but does not resolve (dangling or looping link, unreadable folder).
 */
async function resolveExisting(p: string): Promise<string | null> {
  let prefix = p;
  const rest: string[] = [];
  for (;;) {
    try {
      const real = await fs.realpath(prefix);
      return rest.length ? path.join(real, ...rest.reverse()) : real;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") return null;
      // realpath fails on a dangling link too: lstat tells a missing entry from one that exists.
      if (code === "ENOENT" && (await fs.lstat(prefix).then(() => true, () => false))) return null;
      const parent = path.dirname(prefix);
      if (parent === prefix) return null;
      rest.push(path.basename(prefix));
      prefix = parent;
    }
  }
}

/** The rule for dataset locations (createDataset, updateDataset, and again at evaluation). */
export function datasetRule(roots: readonly string[], field = "input.location"): PathRule {
  return {
    roots,
    variable: "LAYERMERGE_DATASET_ROOTS",
    what: "dataset roots",
    field,
    disabled: "dataset folders are disabled; set LAYERMERGE_DATASET_ROOTS to the folders datasets may be read from",
  };
}
