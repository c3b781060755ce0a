/**
 * Headers of a dump response: what it is, what to call it when saved, and that no cache
 * should keep it.
 */

import type { PgDumpOption } from "./options.ts";

const EXTENSIONS: Readonly<Record<string, string>> = { custom: "dump", tar: "tar" };

/** Plain output that pg_dump itself compressed, by `--compress` method. */
const COMPRESSED_EXTENSIONS: Readonly<Record<string, string>> = {
  gzip: "sql.gz",
  lz4: "sql.lz4",
  zstd: "sql.zst",
};

/**
 * Whether the client accepts gzip, per RFC 9110 section 12.5.3 (a q-value of 0 refuses).
 *
 * @example
 * gzipWanted("br, gzip;q=0.8"); // true
 */
export const gzipWanted = (acceptEncoding: string | undefined): boolean => {
  if (acceptEncoding === undefined) return false;
  const qualities = new Map(
    acceptEncoding.split(",").map((entry) => {
      const [coding = "", ...parameters] = entry
        .split(";")
        .map((part) => part.trim().toLowerCase());
      const quality = parameters.find((parameter) => parameter.startsWith("q="));
      return [coding, quality === undefined ? 1 : Number(quality.slice(2))] as const;
    }),
  );
  // A coding named outright wins over the `*` wildcard, so `gzip;q=0, *` refuses gzip.
  const quality = qualities.get("gzip") ?? qualities.get("x-gzip") ?? qualities.get("*") ?? 0;
  return quality > 0;
};

/** A file name such as `default-2026-12-03T16-30-00Z.sql`, safe in any file system. */
const fileName = (source: string, options: readonly PgDumpOption[], now: Date): string => {
  const format = options.findLast((option) => option.name === "format")?.value ?? "plain";
  const plain = format === "plain" ? plainExtension(options) : undefined;
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replace(/:/g, "-");
  const safeSource = source.replace(/[^A-Za-z0-9_.-]/g, "_") || "source";
  return `${safeSource}-${stamp}.${plain ?? EXTENSIONS[format] ?? "sql"}`;
};

/** `sql`, or the compressed form when `--compress` asks pg_dump for it. */
const plainExtension = (options: readonly PgDumpOption[]): string => {
  const compress = options.findLast((option) => option.name === "compress")?.value;
  if (compress === undefined) return "sql";
  const method = /^\d+$/.test(compress) ? (Number(compress) > 0 ? "gzip" : "none") : compress;
  return COMPRESSED_EXTENSIONS[method.split(":")[0] ?? ""] ?? "sql";
};

export const dumpHeaders = ({
  source,
  options,
  gzip,
  now = new Date(),
}: {
  source: string;
  options: readonly PgDumpOption[];
  gzip: boolean;
  now?: Date;
}): Headers => {
  const headers = new Headers({
    "content-type": "application/sql",
    "content-disposition": `attachment; filename="${fileName(source, options, now)}"`,
    "cache-control": "no-store",
    vary: "accept-encoding",
  });
  if (gzip) headers.set("content-encoding", "gzip");
  return headers;
};
