import { badInput } from "../../errors";
import { numericAwareCompare } from "../../structure/numericAwareCompare";
import type { LayerOrderSource } from "../../structure/types";
import type { SafetensorsEntry } from "./readSafetensorsHeader";

export interface SafetensorsLayerOrder {
  /** Module prefixes in forward order; a module's layer index is its position here. */
  modules: string[];
  source: LayerOrderSource;
}

/** The module a tensor belongs to: its name without the last dotted component. */
export function moduleOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(0, dot);
}

/**
 * Orders a safetensors file's modules: without a graph, a layer is a module prefix, in the order
 * the tensors are stored (docs/CONVENTIONS.md, Layers).
 *
 * The official writer stores tensors sorted by dtype and then by name, which destroys forward
 * order (and puts `blocks.10` before `blocks.2`); such a file is detected from its storage order
 * and its modules are sorted numeric-aware instead. An explicit `layerOrder`
 * wins over both.
 *
 * @param storageOrder the entries sorted by storage offset (see `storageOrder`).
 */
export function safetensorsLayerOrder(storageOrder: readonly SafetensorsEntry[], layerOrder?: readonly string[]): SafetensorsLayerOrder {
  const byFirstStorage: string[] = [];
  const seen = new Set<string>();
  for (const e of storageOrder) {
    const m = moduleOf(e.name);
    if (!seen.has(m)) { seen.add(m); byFirstStorage.push(m); }
  }
  const nameSorted = byFirstStorage.length >= 2 && looksNameSorted(storageOrder);
  const fallback = nameSorted ? [...byFirstStorage].sort(numericAwareCompare) : byFirstStorage;
  const fallbackSource: LayerOrderSource = nameSorted ? "NAME_SORTED" : "STORAGE_ORDER";
  if (layerOrder === undefined) return { modules: fallback, source: fallbackSource };
  return { modules: applyGivenOrder(fallback, layerOrder), source: "GIVEN" };
}

/** Storage order: by offset; zero-length tensors sharing an offset are ordered by name. */
export function storageOrder(entries: readonly SafetensorsEntry[]): SafetensorsEntry[] {
  return [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end || compareCodePoints(a.name, b.name));
}

/**
 * True when the storage order is plain name order, or name order within contiguous dtype blocks
 * (the official writer sorts by dtype, then name). Names compare by code point, which is the
 * byte order of their UTF-8 the writer sorted by.
 */
export function looksNameSorted(storageOrder: readonly SafetensorsEntry[]): boolean {
  let plain = true;
  let perDtype = true;
  const finishedDtypes = new Set<string>();
  for (let k = 1; k < storageOrder.length; k++) {
    const prev = storageOrder[k - 1]!;
    const cur = storageOrder[k]!;
    const sorted = compareCodePoints(prev.name, cur.name) <= 0;
    if (!sorted) plain = false;
    if (prev.dtype === cur.dtype) {
      if (!sorted) perDtype = false;
    } else {
      finishedDtypes.add(prev.dtype);
      if (finishedDtypes.has(cur.dtype)) perDtype = false;
    }
    if (!plain && !perDtype) return false;
  }
  return true;
}

/** `fallback` (modules in a file's own order) reordered by a given list of module prefixes. */
export function applyGivenOrder(fallback: readonly string[], layerOrder: readonly string[]): string[] {
  const seen = new Map<string, number>();
  layerOrder.forEach((prefix, index) => {
    if (typeof prefix !== "string") throw badInput(`layerOrder entry ${index} must be a module prefix string`, `layerOrder.${index}`);
    const previous = seen.get(prefix);
    if (previous !== undefined) {
      throw badInput(`layerOrder lists ${JSON.stringify(prefix)} twice (entries ${previous} and ${index})`, `layerOrder.${index}`);
    }
    seen.set(prefix, index);
  });
  const rank = new Map<string, number>();
  const used = new Set<number>();
  for (const m of fallback) {
    // The most specific listed prefix wins: ["backbone", "backbone.stem"] puts the stem where
    // it is listed and the rest of the backbone where "backbone" is.
    let best = layerOrder.length;
    let bestLength = -1;
    for (let p = m; ; p = moduleOf(p)) {
      const index = seen.get(p);
      if (index !== undefined && p.length > bestLength) { best = index; bestLength = p.length; }
      if (p === "") break;
    }
    if (best < layerOrder.length) used.add(best);
    rank.set(m, best);
  }
  const unknown = layerOrder.filter((_, index) => !used.has(index));
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 5).map((p) => JSON.stringify(p)).join(", ");
    throw badInput(
      `layerOrder lists ${unknown.length === 1 ? "a module prefix" : `${unknown.length} module prefixes`} matching no tensor of this model: ${shown}${unknown.length > 5 ? ", …" : ""}`,
      "layerOrder",
      { unknown: unknown.slice(0, 100) },
    );
  }
  const position = new Map(fallback.map((m, k) => [m, k]));
  return [...fallback].sort((a, b) => rank.get(a)! - rank.get(b)! || position.get(a)! - position.get(b)!);
}

/** Code point order (the UTF-8 byte order); differs from `<` only for astral characters. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let k = 0; k < n; k++) {
    const ca = a.charCodeAt(k);
    const cb = b.charCodeAt(k);
    if (ca === cb) continue;
    const surrogateA = ca >= 0xd800 && ca <= 0xdfff;
    const surrogateB = cb >= 0xd800 && cb <= 0xdfff;
    if (surrogateA === surrogateB) return ca - cb;
    // A surrogate stands for a code point above U+FFFF, above every BMP character.
    return surrogateA ? 1 : -1;
  }
  return a.length - b.length;
}
