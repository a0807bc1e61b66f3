// Serving one artifact's bytes as a download (kept in R2, or straight from the run's sandbox), for the
// API and the public share page alike.
import { downloadHeaders } from "../downloads.ts";
import { ApiError } from "../errors.ts";
import { typeFromName } from "../volume/content-type.ts";
import type { Artifact } from "./types.ts";

/** The artifact path after `…/artifacts/` in a request URL, percent-decoded; 400 when it cannot be. */
export function artifactPathOf(url: string, marker = "/artifacts/"): string {
  const pathname = new URL(url).pathname;
  const at = pathname.indexOf(marker);
  const raw = at < 0 ? "" : pathname.slice(at + marker.length);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError("invalid_request", "path: not a valid percent-encoded path");
  }
}

/** The manifest entry for `path` that can be downloaded (not a deleted file); 404 otherwise. */
export function findArtifact(artifacts: Artifact[] | undefined, path: string, executionId: string): Artifact {
  const found = artifacts?.find((a) => a.path === path && a.change !== "deleted");
  if (!found) throw new ApiError("not_found", `path: execution ${executionId} has no artifact '${path}'`);
  return found;
}

/** A download response for an artifact's bytes; the type comes from its name, the disposition from the type. */
export function artifactResponse(path: string, body: ReadableStream<Uint8Array>, size: number): Response {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const contentType = typeFromName(name);
  const headers: Record<string, string> = { "Content-Type": contentType, ...downloadHeaders(name, contentType) };
  if (size >= 0) headers["Content-Length"] = String(size);
  return new Response(body, { headers });
}
