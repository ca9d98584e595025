import { badInput } from "./errors";

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

/**
 * Durations like `2s`, `30m`, `24h`, `30d`, `2w` (a positive whole number and one unit), in
 * milliseconds. Shared by token expiries (`--expires`, `expiresIn`) and LAYERMERGE_UPLOAD_TTL.
 */
export function parseDuration(text: string, field = "expires"): number {
  const match = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  if (!match) throw badInput(`${field} must look like 30d, 12h, 90m, 2w or 45s (got ${JSON.stringify(text)})`, field);
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (!(ms > 0) || !Number.isSafeInteger(ms)) throw badInput(`${field} must be a positive duration (got ${JSON.stringify(text)})`, field);
  return ms;
}
