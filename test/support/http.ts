/** Small helpers for the artifact routes. */
export async function upload(origin: string, bytes: Uint8Array, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${origin}/artifacts`, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: bytes,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
