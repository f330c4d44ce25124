// A fetched file's body read into one buffer, with progress as its chunks arrive.

type Bytes = Uint8Array<ArrayBuffer>;

/** A response's body as one buffer, reporting each chunk as it arrives. */
export async function readBody(res: Response, onBytes: (n: number) => void): Promise<Bytes> {
  const length = Number(res.headers.get('content-length') ?? NaN);
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  // With a known length the chunks go straight into one buffer; otherwise they are joined at the end.
  if (Number.isSafeInteger(length) && length >= 0 && !res.headers.get('content-encoding')) {
    const out = new Uint8Array(length);
    let at = 0;
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      if (at + r.value.length > length) throw new Error(`the body is longer than its content-length ${length}`);
      out.set(r.value, at);
      at += r.value.length;
      onBytes(r.value.length);
    }
    if (at !== length) throw new Error(`the body ended after ${at} of ${length} bytes`);
    return out;
  }
  const chunks: Uint8Array[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    chunks.push(r.value);
    onBytes(r.value.length);
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
