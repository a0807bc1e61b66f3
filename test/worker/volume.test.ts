// The volume: files, names, HTTP caching and ranges, the quota (overwrites, races, drift), isolation.
import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { userSpace } from "../../src/durable/stub.ts";
import { call, createUser, type ErrorBody, execute } from "./helpers.ts";
import { fileUrl, MiB, pattern, put, r2Totals, sha256, sized, usage } from "./volume-helpers.ts";

type User = { id: string; apiKey: string };

/** A body of `total` bytes that stops after its first MiB until `release()` is called. */
function heldBody(total: number): { body: ReadableStream<Uint8Array>; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent === MiB) await gate;
      if (sent >= total) return controller.close();
      controller.enqueue(new Uint8Array(MiB));
      sent += MiB;
    },
  });
  return { body, release };
}

describe("files", () => {
  let user: User;
  beforeAll(async () => {
    user = await createUser("files");
  });

  it("stores, lists, reads and deletes nested names", async () => {
    const created = await put(user.apiKey, "results/2026/run.json", '{"ok":true}', {
      "Content-Type": "application/json",
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ name: "results/2026/run.json", size: 11, replaced: false });
    await put(user.apiKey, "results/2027/other.txt", "hi");
    await put(user.apiKey, "top.txt", "top");

    const listed = await call("/api/v1/volume/files?prefix=results/", { key: user.apiKey });
    const page = await listed.json<{ items: { name: string; size: number }[]; nextCursor: string | null }>();
    expect(page.items.map((i) => i.name).sort()).toEqual(["results/2026/run.json", "results/2027/other.txt"]);
    expect(page.nextCursor).toBeNull();

    const read = await call(fileUrl("results/2026/run.json"), { key: user.apiKey });
    expect(read.status).toBe(200);
    expect(read.headers.get("Content-Type")).toBe("application/json");
    expect(read.headers.get("Content-Length")).toBe("11");
    expect(await read.json()).toEqual({ ok: true });

    expect(await usage(user.apiKey)).toMatchObject({ usedBytes: 16, fileCount: 3, quotaBytes: 100 * MiB });
    const del = await call(fileUrl("top.txt"), { key: user.apiKey, method: "DELETE" });
    expect(del.status).toBe(204);
    expect((await call(fileUrl("top.txt"), { key: user.apiKey })).status).toBe(404);
    expect((await call(fileUrl("top.txt"), { key: user.apiKey, method: "DELETE" })).status).toBe(404);
    expect(await usage(user.apiKey)).toMatchObject({ usedBytes: 13, fileCount: 2 });
  });

  it("pages a listing with a cursor", async () => {
    const u = await createUser("pager");
    for (let i = 0; i < 5; i++) await put(u.apiKey, `p/${i}`, "x");
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await call(`/api/v1/volume/files?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, {
        key: u.apiKey,
      });
      const page = await res.json<{ items: { name: string }[]; nextCursor: string | null }>();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((i) => i.name));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(["p/0", "p/1", "p/2", "p/3", "p/4"]);
  });

  it("sends ETag and Last-Modified, answers If-None-Match with 304 and Range with 206", async () => {
    await put(user.apiKey, "range.bin", "0123456789");
    const full = await call(fileUrl("range.bin"), { key: user.apiKey });
    const etag = full.headers.get("ETag")!;
    expect(etag).toMatch(/^".+"$/);
    expect(new Date(full.headers.get("Last-Modified")!).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(full.headers.get("Accept-Ranges")).toBe("bytes");
    await full.body?.cancel();

    const cached = await call(fileUrl("range.bin"), { key: user.apiKey, headers: { "If-None-Match": etag } });
    expect(cached.status).toBe(304);
    expect(cached.headers.get("ETag")).toBe(etag);
    const changed = await call(fileUrl("range.bin"), { key: user.apiKey, headers: { "If-None-Match": '"other"' } });
    expect(changed.status).toBe(200);
    await changed.body?.cancel();

    const cases: [string, string, string][] = [
      ["bytes=2-5", "2345", "bytes 2-5/10"],
      ["bytes=7-", "789", "bytes 7-9/10"],
      ["bytes=-3", "789", "bytes 7-9/10"],
      ["bytes=8-100", "89", "bytes 8-9/10"],
    ];
    for (const [range, body, contentRange] of cases) {
      const res = await call(fileUrl("range.bin"), { key: user.apiKey, headers: { Range: range } });
      expect(res.status, range).toBe(206);
      expect(res.headers.get("Content-Range")).toBe(contentRange);
      expect(res.headers.get("Content-Length")).toBe(String(body.length));
      expect(await res.text()).toBe(body);
    }
  });

  it("answers 416 and 412 with the error body, keeping Content-Range on the 416", async () => {
    await put(user.apiKey, "cond.bin", "0123456789");
    for (const range of ["bytes=50-", "bytes=-0"]) {
      const beyond = await call(fileUrl("cond.bin"), { key: user.apiKey, headers: { Range: range } });
      expect(beyond.status, range).toBe(416);
      expect(beyond.headers.get("Content-Range")).toBe("bytes */10");
      expect(beyond.headers.get("Content-Type")).toContain("application/json");
      const body = await beyond.json<ErrorBody>();
      expect(body.error).toMatchObject({
        code: "range_not_satisfiable",
        requestId: beyond.headers.get("X-Request-Id"),
      });
      expect(body.error.message).toContain("Range");
    }

    // A malformed entity-tag list (R2 throws on it) is the client's 400, not a 500; found by fuzz-routes.
    for (const header of ["If-Match", "If-None-Match"]) {
      const malformed = await call(fileUrl("cond.bin"), { key: user.apiKey, headers: { [header]: "leS" } });
      expect(malformed.status, header).toBe(400);
      const body = await malformed.json<ErrorBody>();
      expect(body.error.code).toBe("invalid_request");
      expect(body.error.message).toContain(`${header}: must be * or a list of quoted ETags`);
    }
    const failed = await call(fileUrl("cond.bin"), { key: user.apiKey, headers: { "If-Match": '"not-the-etag"' } });
    expect(failed.status).toBe(412);
    expect(failed.headers.get("ETag")).toMatch(/^".+"$/);
    const body = await failed.json<ErrorBody>();
    expect(body.error.code).toBe("precondition_failed");
    expect(body.error.message).toContain("If-Match");
    expect(body.error.requestId).toBe(failed.headers.get("X-Request-Id"));

    // A matching If-Match still reads the file; a 304 stays bodiless (it is not an error).
    const matched = await call(fileUrl("cond.bin"), {
      key: user.apiKey,
      headers: { "If-Match": failed.headers.get("ETag")! },
    });
    expect(matched.status).toBe(200);
    expect(await matched.text()).toBe("0123456789");
    const cached = await call(fileUrl("cond.bin"), {
      key: user.apiKey,
      headers: { "If-None-Match": failed.headers.get("ETag")! },
    });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe("");
  });

  it("refuses a PUT without a length (411), and takes a chunked one with Upload-Length", async () => {
    const res = await put(user.apiKey, "chunked.bin", pattern(1000));
    expect(res.status).toBe(411);
    const body = await res.json<ErrorBody>();
    expect(body.error.code).toBe("length_required");
    expect(body.error.message).toContain("Content-Length");
    expect((await call(fileUrl("chunked.bin"), { key: user.apiKey })).status).toBe(404);

    const ok = await put(user.apiKey, "chunked.bin", pattern(1000), { "Upload-Length": "1000" });
    expect(ok.status).toBe(201);
    const read = await call(fileUrl("chunked.bin"), { key: user.apiKey });
    expect(await sha256(read.body!)).toBe(await sha256(pattern(1000)));
  });

  it("answers a bad Upload-Length with a 400 naming Upload-Length, storing nothing", async () => {
    for (const announced of ["abc", "-1", "1.5", "1e3", "0x10", "99999999999999999999", ""]) {
      const res = await put(user.apiKey, "bad-length.bin", pattern(10), { "Upload-Length": announced });
      expect(res.status, announced).toBe(400);
      const body = await res.json<ErrorBody>();
      expect(body.error.code).toBe("invalid_request");
      expect(body.error.message, announced).toBe("Upload-Length: must be a whole number of bytes");
    }
    // Sent beside a Content-Length it disagrees with: which one the quota should trust is unclear.
    const both = await put(user.apiKey, "bad-length.bin", "0123456789", { "Upload-Length": "5" });
    expect(both.status).toBe(400);
    expect((await both.json<ErrorBody>()).error.message).toContain("Upload-Length: must equal Content-Length");
    expect(await env.VOLUMES.head(`volumes/${user.id}/bad-length.bin`)).toBeNull();
  });

  it("answers a bad limit or cursor on the listing with a 400 naming it", async () => {
    for (const limit of ["0", "1001", "abc", "1.5", "-3"]) {
      const res = await call(`/api/v1/volume/files?limit=${limit}`, { key: user.apiKey });
      expect(res.status, limit).toBe(400);
      const body = await res.json<ErrorBody>();
      expect(body.error.code).toBe("invalid_request");
      expect(body.error.message).toContain("limit");
    }
    for (const cursor of ["%00", "caf%C3%A9", "a%20b", "x".repeat(2049)]) {
      const res = await call(`/api/v1/volume/files?cursor=${cursor}`, { key: user.apiKey });
      expect(res.status, cursor).toBe(400);
      const body = await res.json<ErrorBody>();
      expect(body.error.code).toBe("invalid_request");
      expect(body.error.message).toContain("cursor: not a cursor from a previous page");
    }
  });

  it("serves only safe types inline; HTML, SVG, XML and the unknown download as attachments, never sniffed", async () => {
    const cases: [string, string, string][] = [
      ["page.html", "text/html", "attachment"],
      ["page.htm", "text/html; charset=utf-8", "attachment"],
      ["pic.svg", "image/svg+xml", "attachment"],
      ["feed.xml", "application/xml", "attachment"],
      ["doc.xhtml", "application/xhtml+xml", "attachment"],
      ["doc.pdf", "application/pdf", "attachment"],
      ["blob", "application/octet-stream", "attachment"],
      ["pic.png", "image/png", "inline"],
      ["notes.txt", "text/plain; charset=utf-8", "inline"],
      ["data.json", "application/json", "inline"],
    ];
    for (const [name, type, disposition] of cases) {
      expect(
        (await put(user.apiKey, `served/${name}`, "<script>alert(1)</script>", { "Content-Type": type })).status,
      ).toBe(201);
      for (const headers of [{}, { Range: "bytes=0-3" }] as Record<string, string>[]) {
        const res = await call(fileUrl(`served/${name}`), { key: user.apiKey, headers });
        expect(res.headers.get("Content-Type"), name).toBe(type);
        expect(res.headers.get("Content-Disposition"), name).toBe(`${disposition}; filename*=UTF-8''${name}`);
        expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
        expect(res.headers.get("Content-Security-Policy")).toContain("sandbox");
        await res.body?.cancel();
      }
    }
  });

  it("stores nothing when a streamed body does not match its announced length", async () => {
    const before = await usage(user.apiKey);
    for (const [announced, says] of [
      ["999", "more than the 999 bytes"],
      ["1001", "ended after 1000 of the 1001 bytes"],
    ] as const) {
      const res = await put(user.apiKey, "liar.bin", pattern(1000), { "Upload-Length": announced });
      expect(res.status).toBe(400);
      const body = await res.json<ErrorBody>();
      expect(body.error.code).toBe("invalid_request");
      expect(body.error.message).toContain(says);
    }
    expect((await call(fileUrl("liar.bin"), { key: user.apiKey })).status).toBe(404);
    expect(await usage(user.apiKey)).toEqual(before);
  });

  it("gives the bytes back when the client breaks off mid-upload", async () => {
    const before = await usage(user.apiKey);
    let sent = 0;
    const breaking = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 3 * MiB) return controller.error(new Error("client went away"));
        controller.enqueue(new Uint8Array(MiB));
        sent += MiB;
      },
    });
    // workerd hands the Worker a body whose sender failed as one that ended early: always this 400.
    const res = await put(user.apiKey, "aborted.bin", breaking, { "Upload-Length": String(10 * MiB) });
    expect(res.status).toBe(400);
    const body = await res.json<ErrorBody>();
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.message).toContain(`ended after ${3 * MiB} of the ${10 * MiB} bytes announced`);
    // The reservation is released once the Worker sees the failure.
    await expect.poll(async () => (await usage(user.apiKey)).reservedBytes).toBe(0);
    expect(await usage(user.apiKey)).toEqual(before);
    expect(await env.VOLUMES.head(`volumes/${user.id}/aborted.bin`)).toBeNull();
  });

  it("answers 503 storage_unavailable, not 400, when R2 fails a complete body, and gives the bytes back", async () => {
    const u = await createUser("r2-down");
    const made = await execute(u.apiKey, {
      language: "shell",
      conversationId: "w",
      code: "head -c 3145728 /dev/zero > whole.bin",
    });
    expect(made.json.status).toBe("succeeded");
    // R2 cannot be made to fail for real, so the user's object gets a bucket whose put reads part of the
    // (well-formed) body and then fails as R2 does on an internal error. The ledger is the real one.
    await runInDurableObject(userSpace(env, u.id), (instance) => {
      const space = instance as unknown as { env: Env };
      const real = space.env.VOLUMES;
      const failing = Object.assign(Object.create(real) as R2Bucket, {
        put: async (_key: string, value: ReadableStream<Uint8Array>) => {
          await value.getReader().read();
          throw new Error("put: We encountered an internal error. Please try again. (10001)");
        },
      });
      space.env = { ...space.env, VOLUMES: failing };
    });
    const res = await call("/api/v1/sandboxes/w/files/persist", {
      key: u.apiKey,
      json: { path: "whole.bin", name: "r2-down.bin" },
    });
    expect(res.status).toBe(503);
    const body = await res.json<ErrorBody>();
    expect(body.error).toMatchObject({
      code: "storage_unavailable",
      message: "Storage failed while writing the file; nothing was stored. Retry shortly.",
      requestId: res.headers.get("X-Request-Id"),
    });
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 0, fileCount: 0, reservedBytes: 0 });
    expect(await env.VOLUMES.head(`volumes/${u.id}/r2-down.bin`)).toBeNull();
  });

  it("uploads and downloads 90 MiB intact (same SHA-256)", async () => {
    const u = await createUser("big");
    const size = 90 * MiB;
    const res = await put(u.apiKey, "big/blob.bin", sized(size, 3));
    expect(res.status).toBe(201);
    const read = await call(fileUrl("big/blob.bin"), { key: u.apiKey });
    expect(read.headers.get("Content-Length")).toBe(String(size));
    expect(await sha256(read.body!)).toBe(await sha256(pattern(size, 3)));
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: size, fileCount: 1 });
  });
});

describe("names", () => {
  let key: string;
  beforeAll(async () => {
    key = (await createUser("names")).apiKey;
  });

  const bad: [string, string, string][] = [
    ["'..' segments", "a%2F..%2Fb", "'..'"],
    ["a lone '..'", "..%2Fetc", "'..'"],
    ["absolute paths", "%2Fetc%2Fpasswd", "absolute"],
    ["backslashes", "a%5Cb", "backslash"],
    ["control characters", "a%0Ab", "control"],
    ["DEL", "a%7Fb", "control"],
    ["empty segments", "a//b", "empty segments"],
    ["a trailing slash", "a/b/", "empty segments"],
    ["names over 512 bytes", "x".repeat(513), "512 bytes"],
    ["multi-byte names over 512 bytes", encodeURIComponent("é".repeat(257)), "512 bytes"],
    ["an empty name", "", "empty"],
    ["bad percent-encoding", "a%E0%A4%A", "percent-encoding"],
    ["bidirectional controls", encodeURIComponent("evil\u202etxt.exe"), "bidirectional"],
    ["an isolate/mark control", encodeURIComponent("a\u2066b\u200f"), "bidirectional"],
  ];
  for (const [rule, raw, mentions] of bad) {
    it(`refuses ${rule} on every method`, async () => {
      for (const method of ["PUT", "GET", "DELETE"]) {
        const res = await call(`/api/v1/volume/files/${raw}`, {
          key,
          method,
          ...(method === "PUT" ? { body: "x" } : {}),
        });
        expect(res.status, `${method} ${raw}`).toBe(400);
        const body = await res.json<ErrorBody>();
        expect(body.error.code).toBe("invalid_request");
        expect(body.error.message).toContain("name");
        expect(body.error.message).toContain(mentions);
      }
    });
  }

  it("accepts a name of exactly 512 bytes and unicode names", async () => {
    expect((await put(key, "y".repeat(512), "x")).status).toBe(201);
    // Counted in UTF-8 bytes, not characters: 256 two-byte characters are exactly 512 bytes.
    expect((await put(key, "é".repeat(256), "x")).status).toBe(201);
    expect((await put(key, "données/résumé ✓.txt", "x")).status).toBe(201);
    const read = await call(fileUrl("données/résumé ✓.txt"), { key });
    expect(await read.text()).toBe("x");
  });

  it("stores NFC and NFD spellings of a name as one file, listed in NFC", async () => {
    const u = await createUser("nfc");
    const nfd = "re\u0301sume\u0301.txt";
    const nfc = "r\u00e9sum\u00e9.txt";
    expect((await put(u.apiKey, nfd, "first")).status).toBe(201);
    const second = await put(u.apiKey, nfc, "second");
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ name: nfc, replaced: true });
    expect(await (await call(fileUrl(nfd), { key: u.apiKey })).text()).toBe("second");
    const listed = await call(`/api/v1/volume/files?prefix=${encodeURIComponent("re\u0301")}`, { key: u.apiKey });
    expect((await listed.json<{ items: { name: string }[] }>()).items.map((i) => i.name)).toEqual([nfc]);
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 6, fileCount: 1 });
    expect((await call(fileUrl(nfd), { key: u.apiKey, method: "DELETE" })).status).toBe(204);
    expect(await r2Totals(u.id)).toEqual({ bytes: 0, count: 0 });
  });

  it("checks the listing prefix", async () => {
    const res = await call("/api/v1/volume/files?prefix=..%2F", { key });
    expect(res.status).toBe(400);
    expect((await res.json<ErrorBody>()).error.message).toContain("prefix");
  });
});

describe("isolation", () => {
  it("one user can never read, list, overwrite or delete another's files", async () => {
    const a = await createUser("iso-a");
    const b = await createUser("iso-b");
    await put(a.apiKey, "secret.txt", "a's secret");

    expect((await call(fileUrl("secret.txt"), { key: b.apiKey })).status).toBe(404);
    expect((await call(fileUrl("secret.txt"), { key: b.apiKey, method: "DELETE" })).status).toBe(404);
    const listed = await call("/api/v1/volume/files", { key: b.apiKey });
    expect((await listed.json<{ items: unknown[] }>()).items).toEqual([]);
    // Names that try to climb out are refused before any key is built.
    for (const raw of [`..%2F${a.id}%2Fsecret.txt`, `%2E%2E%2F${a.id}%2Fsecret.txt`]) {
      expect((await call(`/api/v1/volume/files/${raw}`, { key: b.apiKey })).status).toBe(400);
    }
    // b writing the same name makes b's own file; a's is untouched.
    expect((await put(b.apiKey, "secret.txt", "b")).status).toBe(201);
    expect(await (await call(fileUrl("secret.txt"), { key: a.apiKey })).text()).toBe("a's secret");
    expect(await usage(b.apiKey)).toMatchObject({ usedBytes: 1, fileCount: 1 });
    expect(await usage(a.apiKey)).toMatchObject({ usedBytes: 10, fileCount: 1 });
    const exported = await call("/api/v1/volume/export", { key: b.apiKey });
    expect(await exported.text()).not.toContain("a's secret");
  });

  it("needs a key", async () => {
    expect((await call("/api/v1/volume")).status).toBe(401);
    expect((await call(fileUrl("x"), { method: "PUT", body: "x" })).status).toBe(401);
  });
});

describe("quota", () => {
  it("refuses an upload that would go over with 507 and stores nothing", async () => {
    const u = await createUser("over");
    expect((await put(u.apiKey, "a.bin", sized(60 * MiB))).status).toBe(201);
    const res = await put(u.apiKey, "b.bin", sized(41 * MiB));
    expect(res.status).toBe(507);
    expect((await res.json<ErrorBody>()).error.code).toBe("quota_exceeded");
    expect(await env.VOLUMES.head(`volumes/${u.id}/b.bin`)).toBeNull();
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 60 * MiB, fileCount: 1, reservedBytes: 0 });
    // A file bigger than the whole quota never fits: refused before its body is read.
    const huge = await put(u.apiKey, "huge.bin", sized(101 * MiB));
    expect(huge.status).toBe(507);
    const refusal = await huge.json<ErrorBody>();
    expect(refusal.error.code).toBe("quota_exceeded");
    expect(refusal.error.message).toContain("Nothing was stored");
    expect(await env.VOLUMES.head(`volumes/${u.id}/huge.bin`)).toBeNull();
    expect(await r2Totals(u.id)).toEqual({ bytes: 60 * MiB, count: 1 });
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 60 * MiB, fileCount: 1, reservedBytes: 0 });
  });

  it("counts only the difference when overwriting", async () => {
    const u = await createUser("overwrite");
    expect((await put(u.apiKey, "a.bin", sized(60 * MiB))).status).toBe(201);
    // 60 + 70 would be over; replacing 60 by 70 is not.
    const replaced = await put(u.apiKey, "a.bin", sized(70 * MiB, 1));
    expect(replaced.status).toBe(200);
    expect(await replaced.json()).toMatchObject({ size: 70 * MiB, replaced: true });
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 70 * MiB, fileCount: 1 });
    expect((await put(u.apiKey, "b.bin", sized(31 * MiB))).status).toBe(507);
    expect((await put(u.apiKey, "b.bin", sized(30 * MiB))).status).toBe(201);
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 100 * MiB, usagePercent: 100 });
    // Shrinking always fits.
    expect((await put(u.apiKey, "a.bin", "small")).status).toBe(200);
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 30 * MiB + 5, fileCount: 2 });
  });

  it("holds under a race: 10 parallel 15 MiB uploads into 100 MiB", async () => {
    const u = await createUser("race");
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => put(u.apiKey, `race/${i}.bin`, sized(15 * MiB, i))),
    );
    const statuses = results.map((r) => r.status);
    await Promise.all(results.map((r) => r.body?.cancel()));
    const accepted = statuses.filter((s) => s === 201).length;
    expect(statuses.every((s) => s === 201 || s === 507)).toBe(true);
    expect(accepted * 15 * MiB).toBeLessThanOrEqual(100 * MiB);
    expect(accepted).toBe(6);
    const truth = await r2Totals(u.id);
    expect(truth).toEqual({ bytes: accepted * 15 * MiB, count: accepted });
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: truth.bytes, fileCount: truth.count, reservedBytes: 0 });
  });

  it("refuses a second upload to a name that is still being written (409)", async () => {
    const u = await createUser("same-name");
    const { body: slow, release } = heldBody(2 * MiB);
    const first = put(u.apiKey, "same.bin", slow, { "Upload-Length": String(2 * MiB) });
    await expect.poll(async () => (await usage(u.apiKey)).reservedBytes).toBe(2 * MiB);
    const second = await put(u.apiKey, "same.bin", "x");
    expect(second.status).toBe(409);
    release();
    expect((await first).status).toBe(201);
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 2 * MiB, reservedBytes: 0 });
  });

  it("a late upload that no longer fits is deleted, and the file it overwrote is no longer counted", async () => {
    const u = await createUser("late");
    expect((await put(u.apiKey, "doc.bin", sized(10 * MiB))).status).toBe(201);
    const { body: slow, release } = heldBody(20 * MiB);
    // doc.bin 10 → 20 MiB holds 10 MiB more while it streams.
    const late = put(u.apiKey, "doc.bin", slow, { "Upload-Length": String(20 * MiB) });
    await expect.poll(async () => (await usage(u.apiKey)).reservedBytes).toBe(10 * MiB);
    // Its reservation lapses (as after two hours), and the room goes to another file.
    await runInDurableObject(userSpace(env, u.id), (_instance, state) => {
      state.storage.sql.exec(`UPDATE volume_reservations SET expires_at = 0`);
    });
    expect((await put(u.apiKey, "filler.bin", sized(85 * MiB))).status).toBe(201);
    release();

    const res = await late;
    expect(res.status).toBe(507);
    const body = await res.json<ErrorBody>();
    expect(body.error.code).toBe("quota_exceeded");
    expect(body.error.message).toContain("previous 'doc.bin'");
    // R2 overwrote doc.bin before the refusal, so it is gone: the ledger must not count it either.
    expect(await env.VOLUMES.head(`volumes/${u.id}/doc.bin`)).toBeNull();
    const truth = await r2Totals(u.id);
    expect(truth).toEqual({ bytes: 85 * MiB, count: 1 });
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: truth.bytes, fileCount: truth.count, reservedBytes: 0 });
  });

  it("reconciles usage from the R2 listing when it drifted", async () => {
    const u = await createUser("drift");
    await put(u.apiKey, "kept.bin", sized(10 * MiB));
    // Drift both ways: a phantom 95 MiB file the ledger believes in, and an object R2 holds unrecorded.
    const stub = userSpace(env, u.id);
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec(`INSERT INTO volume_files VALUES ('phantom.bin', ?)`, 95 * MiB);
      state.storage.sql.exec(`UPDATE volume_meta SET reconciled_at = 0`);
    });
    await env.VOLUMES.put(`volumes/${u.id}/unrecorded.bin`, new Uint8Array(1234));
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 105 * MiB, fileCount: 2 });

    // The refusal this drift would cause first re-reads R2, so the upload goes through.
    expect((await put(u.apiKey, "new.bin", sized(5 * MiB))).status).toBe(201);
    const truth = await r2Totals(u.id);
    expect(truth.count).toBe(3);
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: truth.bytes, fileCount: 3 });
  });
});
