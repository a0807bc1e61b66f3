// Conditional writes on volume files: If-None-Match: * creates only, If-Match replaces or deletes only
// the version named — also when writers race, and never across users.
import { describe, expect, it } from "vitest";
import { call, createUser, type ErrorBody } from "./helpers.ts";
import { fileUrl, put, usage } from "./volume-helpers.ts";

async function read(key: string, name: string): Promise<{ status: number; text: string; etag: string | null }> {
  const res = await call(fileUrl(name), { key });
  return { status: res.status, text: await res.text(), etag: res.headers.get("ETag") };
}

/** A writer that insists: a 409 (another upload to the name in flight) is retried until it is settled. */
async function insist(send: () => Promise<Response>): Promise<number> {
  for (;;) {
    const res = await send();
    await res.body?.cancel();
    if (res.status !== 409) return res.status;
    await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 20));
  }
}

async function errorOf(res: Response): Promise<ErrorBody["error"]> {
  return ((await res.json()) as ErrorBody).error;
}

describe("conditional PUT", () => {
  it("If-None-Match: * creates a file once, then refuses with 412 and keeps the first", async () => {
    const { apiKey } = await createUser("create-only");
    const first = await put(apiKey, "once.txt", "first", { "If-None-Match": "*" });
    expect(first.status).toBe(201);
    const second = await put(apiKey, "once.txt", "second!", { "If-None-Match": "*" });
    expect(second.status).toBe(412);
    const error = await errorOf(second);
    expect(error.code).toBe("precondition_failed");
    expect(error.message).toContain("If-None-Match");
    expect((await read(apiKey, "once.txt")).text).toBe("first");
    expect(await usage(apiKey)).toMatchObject({ usedBytes: 5, fileCount: 1, reservedBytes: 0 });
  });

  it("If-Match replaces only the version named", async () => {
    const { apiKey } = await createUser("replace-known");
    const created = await (await put(apiKey, "doc.txt", "v1")).json<{ etag: string }>();
    const replaced = await put(apiKey, "doc.txt", "v2", { "If-Match": created.etag });
    expect(replaced.status).toBe(200);
    const v2 = await replaced.json<{ etag: string; replaced: boolean }>();
    expect(v2.replaced).toBe(true);
    expect(v2.etag).not.toBe(created.etag);

    // The old ETag no longer names the file: refused, and v2 stays.
    const stale = await put(apiKey, "doc.txt", "v3-from-stale-copy", { "If-Match": created.etag });
    expect(stale.status).toBe(412);
    expect((await errorOf(stale)).message).toBe(`If-Match: the file has changed (its ETag is now ${v2.etag})`);
    expect((await read(apiKey, "doc.txt")).text).toBe("v2");

    // A list of ETags matches any of them; * matches any existing file but not a missing one.
    expect((await put(apiKey, "doc.txt", "v3", { "If-Match": `"nope", ${v2.etag}` })).status).toBe(200);
    expect((await put(apiKey, "doc.txt", "v4", { "If-Match": "*" })).status).toBe(200);
    const missing = await put(apiKey, "absent.txt", "x", { "If-Match": "*" });
    expect(missing.status).toBe(412);
    expect((await errorOf(missing)).message).toBe("If-Match: there is no such file to replace");
    expect((await read(apiKey, "absent.txt")).status).toBe(404);
    expect(await usage(apiKey)).toMatchObject({ usedBytes: 2, fileCount: 1, reservedBytes: 0 });
  });

  it("a malformed condition is a 400 naming the header, and nothing is written", async () => {
    const { apiKey } = await createUser("bad-condition");
    const res = await put(apiKey, "x.txt", "data", { "If-Match": "not-quoted" });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toContain("If-Match");
    expect((await read(apiKey, "x.txt")).status).toBe(404);
  });

  it("racing create-only writers: exactly one wins, and the file is the winner's", async () => {
    const { apiKey } = await createUser("race-create");
    const bodies = Array.from({ length: 6 }, (_, i) => `writer ${i}`);
    // Each writer retries while another upload holds the name, so every one of them reaches R2's check.
    const statuses = await Promise.all(
      bodies.map((body) => insist(() => put(apiKey, "race.txt", body, { "If-None-Match": "*" }))),
    );
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 412)).toHaveLength(bodies.length - 1);
    const winner = bodies[statuses.indexOf(201)];
    expect((await read(apiKey, "race.txt")).text).toBe(winner);
    expect(await usage(apiKey)).toMatchObject({ fileCount: 1, reservedBytes: 0 });
  });

  it("racing replacements of one version: exactly one wins", async () => {
    const { apiKey } = await createUser("race-replace");
    const { etag } = await (await put(apiKey, "counter.txt", "0")).json<{ etag: string }>();
    const statuses = await Promise.all(
      ["1", "2", "3", "4"].map((body) => insist(() => put(apiKey, "counter.txt", body, { "If-Match": etag }))),
    );
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 412)).toHaveLength(3);
    expect((await read(apiKey, "counter.txt")).text).toBe(String(statuses.indexOf(200) + 1));
  });

  it("another user's ETag or file changes nothing for them", async () => {
    const a = await createUser("cond-a");
    const b = await createUser("cond-b");
    const { etag } = await (await put(a.apiKey, "shared-name.txt", "A's")).json<{ etag: string }>();
    // B has no such file: create-only succeeds in B's own volume, and A's is untouched.
    expect((await put(b.apiKey, "shared-name.txt", "B's", { "If-None-Match": "*" })).status).toBe(201);
    expect((await put(b.apiKey, "other.txt", "B's", { "If-Match": etag })).status).toBe(412);
    expect((await read(a.apiKey, "shared-name.txt")).text).toBe("A's");
    expect((await read(b.apiKey, "shared-name.txt")).text).toBe("B's");
  });
});

describe("conditional DELETE", () => {
  it("If-Match deletes only the version named", async () => {
    const { apiKey } = await createUser("delete-known");
    const { etag } = await (await put(apiKey, "d.txt", "v1")).json<{ etag: string }>();
    await put(apiKey, "d.txt", "v2");
    const stale = await call(fileUrl("d.txt"), { key: apiKey, method: "DELETE", headers: { "If-Match": etag } });
    expect(stale.status).toBe(412);
    expect((await read(apiKey, "d.txt")).text).toBe("v2");
    const current = (await read(apiKey, "d.txt")).etag!;
    const ok = await call(fileUrl("d.txt"), { key: apiKey, method: "DELETE", headers: { "If-Match": current } });
    expect(ok.status).toBe(204);
    expect((await read(apiKey, "d.txt")).status).toBe(404);
    expect(await usage(apiKey)).toMatchObject({ usedBytes: 0, fileCount: 0, reservedBytes: 0 });
  });

  it("a delete and a replacement of the same version: one of them wins, never both", async () => {
    const { apiKey } = await createUser("delete-race");
    const { etag } = await (await put(apiKey, "r.txt", "v1")).json<{ etag: string }>();
    const [removed, replaced] = await Promise.all([
      insist(() => call(fileUrl("r.txt"), { key: apiKey, method: "DELETE", headers: { "If-Match": etag } })),
      insist(() => put(apiKey, "r.txt", "v2", { "If-Match": etag })),
    ]);
    const after = await read(apiKey, "r.txt");
    if (removed === 204) {
      expect(replaced).toBe(412);
      expect(after.status).toBe(404);
    } else {
      expect(removed).toBe(412);
      expect(replaced).toBe(200);
      expect(after.text).toBe("v2");
    }
    expect((await usage(apiKey)).reservedBytes).toBe(0);
  });
});
