/**
 * gzip for a streamed body that keeps backpressure on every runtime. `pipeThrough` with a
 * `CompressionStream` relies on the compressor to push back on its writer, and Node 20's
 * does not: a slow client would let the whole dump pile up in memory. Here input is fed
 * to the compressor only while the client is waiting for output.
 */

/**
 * Compresses `source` with gzip, reading from it only as fast as the result is read.
 *
 * @example
 * return new Response(gzipStream(dump.body), { headers: { "content-encoding": "gzip" } });
 */
export const gzipStream = (source: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> => {
  const compressor = new CompressionStream("gzip");
  const writer = (compressor.writable as WritableStream<Uint8Array>).getWriter();
  const output = compressor.readable.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const input = source.getReader();
  let pendingOutput: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  let feeding: Promise<boolean> | undefined;
  let inputDone = false;

  /** Moves one chunk of input into the compressor; false once the input has ended. */
  const feed = async (): Promise<boolean> => {
    const { done, value } = await input.read();
    if (done) {
      inputDone = true;
      await writer.close();
      return false;
    }
    await writer.write(value);
    return true;
  };

  return new ReadableStream<Uint8Array>(
    {
      pull: async (controller) => {
        try {
          pendingOutput ??= output.read();
          const next = pendingOutput;
          for (;;) {
            if (!inputDone && feeding === undefined) {
              feeding = feed();
              // Handled here or in the next pull; never left as an unhandled rejection.
              feeding.catch(() => {});
            }
            const raced = inputDone
              ? await next
              : await Promise.race([next, (feeding as Promise<boolean>).then(() => undefined)]);
            if (raced === undefined) {
              feeding = undefined;
              continue;
            }
            pendingOutput = undefined;
            if (raced.done) controller.close();
            else controller.enqueue(raced.value);
            return;
          }
        } catch (error) {
          // A failed dump must stay a failure after compression, never a clean end.
          await writer.abort(error).catch(() => {});
          controller.error(error);
        }
      },
      cancel: async (reason) => {
        await input.cancel(reason).catch(() => {});
        await output.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
};
