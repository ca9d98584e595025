import { type AnchorHTMLAttributes, type MouseEvent, useEffect, useState } from "react";

/**
 * A minimal history router. State that people share (filters, the selected model, the tab, a
 * running job) lives in the path and query string, so a copied URL reopens the same view.
 */
export interface Location {
  path: string;
  params: URLSearchParams;
}

const read = (): Location => ({ path: window.location.pathname, params: new URLSearchParams(window.location.search) });

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  window.dispatchEvent(new PopStateEvent("popstate"));
  if (!options.replace) window.scrollTo(0, 0);
}

export function useLocation(): Location {
  const [location, setLocation] = useState(read);
  useEffect(() => {
    const update = () => setLocation(read());
    window.addEventListener("popstate", update);
    return () => window.removeEventListener("popstate", update);
  }, []);
  return location;
}

/** `path?query` with empty values left out, so URLs stay short and stable. */
export function href(path: string, query: Record<string, string | number | boolean | null | undefined | string[]> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "" || value === false) continue;
    if (Array.isArray(value)) {
      if (value.length) params.set(key, value.join(","));
    } else params.set(key, String(value));
  }
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

/** Replaces some query parameters of the current URL (filters typed into a form). */
export function useQueryParams(): [URLSearchParams, (changes: Record<string, string | number | boolean | null | undefined | string[]>, options?: { push?: boolean }) => void] {
  const { path, params } = useLocation();
  const update = (changes: Record<string, string | number | boolean | null | undefined | string[]>, options: { push?: boolean } = {}) => {
    const next: Record<string, string> = Object.fromEntries(new URLSearchParams(window.location.search));
    const merged: Record<string, string | number | boolean | null | undefined | string[]> = { ...next, ...changes };
    navigate(href(path, merged), { replace: !options.push });
  };
  return [params, update];
}

export function Link({ to, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...rest} />;
}
