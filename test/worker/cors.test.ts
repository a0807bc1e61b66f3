// CORS: only the configured origins, preflights without auth, errors readable by the allowed app.
import { describe, expect, it } from "vitest";
import { allowedOrigins } from "../../src/middleware/cors.ts";
import { call, createUser } from "./helpers.ts";

const APP = "https://app.example";

function preflight(origin: string, method = "PUT", headers = "authorization, content-type, if-match") {
  return call("/api/v1/volume/files/notes.txt", {
    method: "OPTIONS",
    headers: { Origin: origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers },
  });
}

describe("CORS", () => {
  it("reads the var: comma or space separated, trailing slashes ignored", () => {
    expect(allowedOrigins(" https://a.example,https://b.example/  https://c.example ")).toEqual([
      "https://a.example",
      "https://b.example",
      "https://c.example",
    ]);
    expect(allowedOrigins("")).toEqual([]);
    expect(allowedOrigins(undefined)).toEqual([]);
  });

  it("answers an allowed origin's preflight without auth", async () => {
    const res = await preflight(APP);
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe(APP);
    expect(res.headers.get("Access-Control-Allow-Methods")?.split(",")).toEqual(
      expect.arrayContaining(["GET", "PUT", "POST", "DELETE"]),
    );
    const allowed = res.headers.get("Access-Control-Allow-Headers")?.toLowerCase().split(",") ?? [];
    expect(allowed).toEqual(expect.arrayContaining(["authorization", "content-type", "if-match", "upload-length"]));
    expect(res.headers.get("Vary")).toContain("Origin");
  });

  it("gives an origin that is not listed no CORS grant", async () => {
    const res = await preflight("https://evil.example");
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
    const get = await call("/api/health", { headers: { Origin: "https://evil.example" } });
    expect(get.status).toBe(200);
    expect(get.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("a listed origin written with a trailing slash in the var still matches", async () => {
    const res = await preflight("https://tools.example");
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://tools.example");
  });

  it("exposes the headers an app needs, on success and on errors", async () => {
    const { apiKey } = await createUser("cors");
    const ok = await call("/api/v1/volume", { key: apiKey, headers: { Origin: APP } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("Access-Control-Allow-Origin")).toBe(APP);
    const exposed = ok.headers.get("Access-Control-Expose-Headers")?.split(",") ?? [];
    expect(exposed).toEqual(
      expect.arrayContaining(["X-Request-Id", "ETag", "Content-Range", "Retry-After", "Server-Timing"]),
    );

    // A 401 must be readable too, or the app cannot tell a bad key from a network failure.
    const denied = await call("/api/v1/volume", { key: "phx_wrong", headers: { Origin: APP } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("Access-Control-Allow-Origin")).toBe(APP);
    const body = (await denied.json()) as { error: { code: string } };
    expect(body.error.code).toBe("unauthorized");
  });
});
