/**
 * The API token for this browser tab. sessionStorage, not localStorage: a token typed into a
 * shared machine should not outlive the tab.
 */
const KEY = "layermerge.token";

export function readToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function writeToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(KEY, token);
    else sessionStorage.removeItem(KEY);
  } catch {
    // Storage disabled (private mode): the token lives only until the page reloads.
  }
  window.dispatchEvent(new Event("layermerge:token"));
}

export function authHeaders(): Record<string, string> {
  const token = readToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}
