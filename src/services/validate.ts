import { badInput } from "../core/errors";

/** Input checks shared by the services; each names the offending field. */

export function requiredText(value: string | null | undefined, field: string, maxLength = 200): string {
  const text = (value ?? "").trim();
  if (!text) throw badInput(`${field} must not be empty`, field);
  if (text.length > maxLength) throw badInput(`${field} must be at most ${maxLength} characters (got ${text.length})`, field);
  return text;
}

export function optionalText(value: string | null | undefined, field: string, maxLength = 200): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  const text = value.trim();
  if (!text) return null;
  if (text.length > maxLength) throw badInput(`${field} must be at most ${maxLength} characters (got ${text.length})`, field);
  return text;
}

export function oneOf<T extends string>(value: string, allowed: Record<string, T>, field: string): T {
  const values = Object.values(allowed) as string[];
  if (!values.includes(value)) throw badInput(`${field} must be one of ${values.join(", ")} (got ${JSON.stringify(value)})`, field);
  return value as T;
}

export function slug(value: string | null | undefined, field: string): string {
  const text = requiredText(value, field, 100);
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(text)) {
    throw badInput(`${field} must be a lowercase slug (letters, digits, '.', '_', '-'); got ${JSON.stringify(text)}`, field);
  }
  return text;
}

export function tagList(tags: string[] | null | undefined, field: string): string[] | undefined {
  if (tags == null) return undefined;
  const out = new Set<string>();
  tags.forEach((tag, i) => {
    const t = requiredText(tag, `${field}.${i}`, 100);
    out.add(t);
  });
  if (out.size > 100) throw badInput(`${field} may hold at most 100 tags`, field);
  return [...out];
}
