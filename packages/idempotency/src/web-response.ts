/**
 * Reads a fetch `Response` body up to `limit` bytes. Returns the bytes (when it fits) and a
 * response to send in place of the consumed one: the same bytes, or — when the body is larger —
 * what was read followed by the rest of the stream, so nothing is lost and nothing is buffered
 * beyond the limit.
 */
export async function readCapped(
  response: Response,
  limit: number,
): Promise<{ bytes?: Uint8Array; rest: Response }> {
  if (!response.body) return { bytes: new Uint8Array(0), rest: response };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      const bytes = Buffer.concat(chunks);
      return { bytes, rest: new Response(bytes, response) };
    }
    chunks.push(value);
    size += value.byteLength;
    if (size > limit) {
      // Too large to store: send what was read, then the rest of the stream.
      const stream = new ReadableStream<Uint8Array>({
        start: (c) => {
          for (const chunk of chunks) c.enqueue(chunk);
        },
        pull: async (c) => {
          const next = await reader.read();
          if (next.done) c.close();
          else c.enqueue(next.value);
        },
        cancel: (reason) => reader.cancel(reason),
      });
      return { rest: new Response(stream, response) };
    }
  }
}

/**
 * Reads a copy of a fetch `Request` body up to `limit` bytes (the handler still reads the
 * original); undefined — without buffering more — when it is larger.
 */
export async function readRequestCapped(
  request: Request,
  limit: number,
): Promise<Uint8Array | undefined> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) return undefined;
  const body = request.clone().body;
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
}
