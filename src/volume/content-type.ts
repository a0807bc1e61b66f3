// The type a volume file is stored with: what the client said, unless it said nothing useful, then the name's.
/** Types by extension for files whose upload named no type (lower-case extension, no dot). */
const BY_EXTENSION: Record<string, string> = {
  txt: "text/plain; charset=utf-8",
  log: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  tsv: "text/tab-separated-values; charset=utf-8",
  json: "application/json",
  ndjson: "application/x-ndjson",
  xml: "application/xml",
  yaml: "application/yaml",
  yml: "application/yaml",
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  ts: "text/plain; charset=utf-8",
  py: "text/x-python; charset=utf-8",
  sh: "text/x-shellscript; charset=utf-8",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  svg: "image/svg+xml",
  pdf: "application/pdf",
  zip: "application/zip",
  tar: "application/x-tar",
  gz: "application/gzip",
  tgz: "application/gzip",
  whl: "application/zip",
  parquet: "application/vnd.apache.parquet",
};

const OCTET_STREAM = "application/octet-stream";

/** The type a name suggests, or `application/octet-stream`. */
export function typeFromName(name: string): string {
  const base = name.slice(name.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  if (dot <= 0) return OCTET_STREAM;
  return BY_EXTENSION[base.slice(dot + 1).toLowerCase()] ?? OCTET_STREAM;
}

/**
 * The type to store for a raw upload. curl's `--data-binary` sends `application/x-www-form-urlencoded`
 * unless told otherwise, and a raw body is never a form: that type counts as "not given", like none at all.
 */
export function uploadContentType(header: string | undefined, name: string): string {
  const given = header?.trim() ?? "";
  const essence = given.split(";")[0]!.trim().toLowerCase();
  if (essence === "" || essence === "application/x-www-form-urlencoded") return typeFromName(name);
  return given;
}
