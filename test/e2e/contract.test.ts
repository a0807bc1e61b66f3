// The contract test: drives every route of the running local stack through the typed client (client/),
// success and error, and validates each real response against the OpenAPI document the Worker serves.
// It ends by checking that every documented operation was seen answering, and seen failing.
import { describe, expect, inject, it } from "vitest";
import { createPhoenixClient, type ExecutionResult } from "../../client/index.ts";
import { Contract } from "./contract.ts";

const baseUrl = inject("baseUrl");
const ownerToken = inject("ownerToken");

describe("the API against its OpenAPI document", () => {
  it("answers every route as documented, success and error", async () => {
    const served = await fetch(`${baseUrl}/api/openapi.json`);
    expect(served.status).toBe(200);
    const contract = new Contract((await served.json()) as Record<string, any>);
    const checked = { fetch: contract.fetch };
    const owner = createPhoenixClient(baseUrl, ownerToken, checked);
    const anonymous = createPhoenixClient(baseUrl, undefined, checked);

    // ── Meta ──
    expect((await anonymous.GET("/api/health")).data?.ok).toBe(true);
    expect((await anonymous.GET("/api/openapi.json")).data?.openapi).toBe("3.1.0");
    expect((await anonymous.GET("/docs", { parseAs: "text" })).response.status).toBe(200);

    // ── Admin ──
    const created = await owner.POST("/api/v1/admin/users", { body: { name: "contract" } });
    const user = created.data!;
    expect(created.response.status).toBe(201);
    expect((await owner.POST("/api/v1/admin/users", { body: { name: "" } })).error?.error.code).toBe("invalid_request");
    const client = createPhoenixClient(baseUrl, user.apiKey, checked);
    expect((await client.GET("/api/v1/admin/users")).error?.error.code).toBe("forbidden");
    expect((await owner.GET("/api/v1/admin/users")).data?.items.some((u) => u.id === user.id)).toBe(true);
    const userPath = { params: { path: { id: user.id } } };
    const nobody = { params: { path: { id: "usr_nobody" } } };
    const key = (await owner.POST("/api/v1/admin/users/{id}/keys", userPath)).data!;
    expect(key.userId).toBe(user.id);
    expect((await owner.POST("/api/v1/admin/users/{id}/keys", nobody)).error?.error.code).toBe("not_found");
    expect((await owner.GET("/api/v1/admin/users/{id}/keys", userPath)).data?.items).toHaveLength(2);
    expect((await owner.GET("/api/v1/admin/users/{id}/keys", nobody)).error?.error.code).toBe("not_found");
    const revoke = { params: { path: { keyId: key.id } } };
    expect((await owner.DELETE("/api/v1/admin/keys/{keyId}", revoke)).response.status).toBe(204);
    expect((await owner.DELETE("/api/v1/admin/keys/{keyId}", revoke)).error?.error.code).toBe("not_found");
    expect((await owner.GET("/api/v1/admin/stats")).data?.totals).toBeDefined();

    // ── Executions ──
    const run = await client.POST("/api/v1/executions", {
      body: { language: "python", code: "print(6*7)", conversationId: "contract" },
    });
    const result = run.data as ExecutionResult;
    expect(result).toMatchObject({ status: "succeeded", stdout: "42\n" });
    const streamed = await client.POST("/api/v1/executions", {
      body: { language: "shell", code: "echo streamed", conversationId: "contract" },
      headers: { Accept: "text/event-stream" },
      parseAs: "text",
    });
    expect(streamed.data).toContain("event: end");
    const bad = await client.POST("/api/v1/executions", { body: { language: "cobol" as "shell", code: "x" } });
    expect(bad.error?.error.message).toContain("language");
    const runId = { params: { path: { id: result.id } } };
    const missing = { params: { path: { id: "exe_missing" } } };
    expect((await client.GET("/api/v1/executions", { params: { query: { limit: 5 } } })).data?.items.length).toBe(2);
    expect((await client.GET("/api/v1/executions", { params: { query: { limit: 0 } } })).error?.error.code).toBe(
      "invalid_request",
    );
    // A finished run: its history item (a running one would be `{status: "running", …}`).
    expect((await client.GET("/api/v1/executions/{id}", runId)).data).toMatchObject({ code: "print(6*7)" });
    expect((await client.GET("/api/v1/executions/{id}", missing)).error?.error.code).toBe("not_found");
    expect((await client.POST("/api/v1/executions/{id}/cancel", runId)).error?.error.code).toBe("conflict");
    expect((await client.POST("/api/v1/executions/{id}/cancel", missing)).error?.error.code).toBe("not_found");
    // A run held open until cancelled; its id comes from the stream's first event (read outside the contract
    // fetch, which would wait for the whole stream before answering).
    const held = await globalThis.fetch(`${baseUrl}/api/v1/executions`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${user.apiKey}`,
        "Content-Type": "application/json",
        Accept: "text/event-stream",
      },
      body: JSON.stringify({ language: "shell", code: "while true; do sleep 0.1; done", conversationId: "held" }),
    });
    const reader = held.body!.pipeThrough(new TextDecoderStream()).getReader();
    let events = "";
    while (!events.includes("event: start")) events += (await reader.read()).value ?? "";
    const heldId = /"id":"([^"]+)"/.exec(events.slice(events.indexOf("event: start")))![1]!;
    const cancel = await client.POST("/api/v1/executions/{id}/cancel", { params: { path: { id: heldId } } });
    expect(cancel.response.status).toBe(202);
    while (!events.includes("event: end")) events += (await reader.read()).value ?? "";
    expect(events).toContain('"status":"cancelled"');
    await reader.cancel();

    // ── Sandboxes ──
    const conversation = { params: { path: { conversationId: "contract" } } };
    const nowhere = { params: { path: { conversationId: "never-opened" } } };
    expect((await client.GET("/api/v1/sandboxes")).data?.items.map((s) => s.conversationId)).toContain("contract");
    expect((await client.GET("/api/v1/sandboxes/{conversationId}", conversation)).data?.conversationId).toBe(
      "contract",
    );
    expect((await client.GET("/api/v1/sandboxes/{conversationId}", nowhere)).error?.error.code).toBe("not_found");
    const badId = { params: { path: { conversationId: "-bad" } } };
    expect((await client.GET("/api/v1/sandboxes/{conversationId}", badId)).error?.error.code).toBe("invalid_request");
    const inSandbox = (path: string) => ({ params: { path: { conversationId: "contract" }, query: { path } } });
    const written = await client.PUT("/api/v1/sandboxes/{conversationId}/file", {
      ...inSandbox("pkg/package.json"),
      body: '{"name":"contract-pkg","version":"1.0.0"}' as never,
      bodySerializer: (body) => body as string,
      headers: { "Content-Type": "application/octet-stream" },
    });
    expect(written.data?.path).toBe("/home/user/pkg/package.json");
    const tooFar = { ...inSandbox("/etc/passwd"), body: "x" as never, bodySerializer: (b: unknown) => b as string };
    expect((await client.PUT("/api/v1/sandboxes/{conversationId}/file", tooFar)).error?.error.code).toBeDefined();
    expect((await client.GET("/api/v1/sandboxes/{conversationId}/files", inSandbox("pkg"))).data?.items).toHaveLength(
      1,
    );
    expect((await client.GET("/api/v1/sandboxes/{conversationId}/files", inSandbox("nope"))).error).toBeDefined();
    const read = await client.GET("/api/v1/sandboxes/{conversationId}/file", {
      ...inSandbox("pkg/package.json"),
      parseAs: "text",
    });
    expect(read.data).toContain("contract-pkg");
    expect((await client.GET("/api/v1/sandboxes/{conversationId}/file", inSandbox("nope.txt"))).error?.error.code).toBe(
      "not_found",
    );
    const install = await client.POST("/api/v1/sandboxes/{conversationId}/packages", {
      ...conversation,
      body: { manager: "npm", packages: ["./pkg"] },
    });
    expect(install.data?.manager).toBe("npm");
    const offline = await client.POST("/api/v1/sandboxes/{conversationId}/packages", {
      ...conversation,
      body: { manager: "pip", packages: ["requests"] },
    });
    expect(offline.error?.error.message).toContain("internet");
    const persisted = await client.POST("/api/v1/sandboxes/{conversationId}/files/persist", {
      ...conversation,
      body: { path: "pkg/package.json", name: "kept/package.json" },
    });
    expect(persisted.response.status).toBe(201);
    const persistMissing = await client.POST("/api/v1/sandboxes/{conversationId}/files/persist", {
      ...conversation,
      body: { path: "nope.txt", name: "nope.txt" },
    });
    expect(persistMissing.error?.error.code).toBe("not_found");
    const restored = await client.POST("/api/v1/sandboxes/{conversationId}/files/restore", {
      ...conversation,
      body: { name: "kept/package.json", path: "copy.json" },
    });
    expect(restored.data?.path).toBe("/home/user/copy.json");
    const restoreMissing = await client.POST("/api/v1/sandboxes/{conversationId}/files/restore", {
      ...conversation,
      body: { name: "nope.txt", path: "copy.json" },
    });
    expect(restoreMissing.error?.error.code).toBe("not_found");

    // ── Volume ──
    const file = (name: string) => ({ params: { path: { name } } });
    const raw = { bodySerializer: (b: unknown) => b as string, headers: { "Content-Type": "text/plain" } };
    expect(
      (await client.PUT("/api/v1/volume/files/{name}", { ...file("a.txt"), body: "hello" as never, ...raw })).response
        .status,
    ).toBe(201);
    const replaced = await client.PUT("/api/v1/volume/files/{name}", {
      ...file("a.txt"),
      body: "hello!" as never,
      ...raw,
    });
    expect(replaced.data?.replaced).toBe(true);
    const stale = await client.PUT("/api/v1/volume/files/{name}", {
      ...file("a.txt"),
      body: "x" as never,
      ...raw,
      headers: { ...raw.headers, "If-Match": '"stale"' },
    });
    expect(stale.error?.error.code).toBe("precondition_failed");
    const unsized = await contract.fetch(`${baseUrl}/api/v1/volume/files/b.txt`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${user.apiKey}` },
      body: new Blob(["chunked"]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(unsized.status).toBe(411);
    expect((await client.GET("/api/v1/volume")).data?.fileCount).toBe(2);
    expect((await client.GET("/api/v1/volume/files", { params: { query: { limit: 10 } } })).data?.items).toHaveLength(
      2,
    );
    expect((await client.GET("/api/v1/volume/files", { params: { query: { cursor: "\u0001" } } })).error).toBeDefined();
    const got = await client.GET("/api/v1/volume/files/{name}", { ...file("a.txt"), parseAs: "text" });
    expect(got.data).toBe("hello!");
    const etag = got.response.headers.get("ETag")!;
    const part = await client.GET("/api/v1/volume/files/{name}", {
      ...file("a.txt"),
      parseAs: "text",
      headers: { Range: "bytes=0-3" },
    });
    expect(part.response.status).toBe(206);
    const fresh = await client.GET("/api/v1/volume/files/{name}", {
      ...file("a.txt"),
      parseAs: "text",
      headers: { "If-None-Match": etag },
    });
    expect(fresh.response.status).toBe(304);
    const past = await client.GET("/api/v1/volume/files/{name}", {
      ...file("a.txt"),
      headers: { Range: "bytes=100-" },
    });
    expect(past.error?.error.code).toBe("range_not_satisfiable");
    expect((await client.GET("/api/v1/volume/files/{name}", file("nope.txt"))).error?.error.code).toBe("not_found");
    const tar = await client.GET("/api/v1/volume/export", { parseAs: "arrayBuffer" });
    expect(tar.response.headers.get("Content-Type")).toBe("application/x-tar");
    expect((await client.DELETE("/api/v1/volume/files/{name}", file("a.txt"))).response.status).toBe(204);
    expect((await client.DELETE("/api/v1/volume/files/{name}", file("a.txt"))).error?.error.code).toBe("not_found");
    const other = createPhoenixClient(
      baseUrl,
      (await owner.POST("/api/v1/admin/users", { body: { name: "contract-import" } })).data!.apiKey,
      checked,
    );
    const tarBody = {
      bodySerializer: (b: unknown) => b as ArrayBuffer,
      headers: { "Content-Type": "application/x-tar" },
    };
    const imported = await other.POST("/api/v1/volume/import", { body: tar.data as never, ...tarBody });
    expect(imported.response.status).toBe(201);
    const garbage = await other.POST("/api/v1/volume/import", {
      body: new TextEncoder().encode("not a tar").buffer as never,
      ...tarBody,
    });
    expect(garbage.error?.error.code).toBeDefined();
    expect((await client.GET("/api/v1/stats")).data?.user.totalExecutions).toBeGreaterThanOrEqual(3);

    // ── Closing and deleting ──
    expect((await client.DELETE("/api/v1/sandboxes/{conversationId}", conversation)).response.status).toBe(204);
    expect((await client.DELETE("/api/v1/sandboxes/{conversationId}", badId)).error?.error.code).toBe(
      "invalid_request",
    );
    const doomed = (await owner.POST("/api/v1/admin/users", { body: { name: "contract-doomed" } })).data!;
    const doomedPath = { params: { path: { id: doomed.id } } };
    expect((await owner.DELETE("/api/v1/admin/users/{id}", doomedPath)).data).toMatchObject({ id: doomed.id });
    expect((await owner.DELETE("/api/v1/admin/users/{id}", doomedPath)).data).toMatchObject({ alreadyDeleted: true });
    expect((await owner.DELETE("/api/v1/admin/users/{id}", nobody)).error?.error.code).toBe("not_found");
    const badMode = { params: { path: { id: doomed.id }, query: { history: "keep" as "delete" } } };
    expect((await owner.DELETE("/api/v1/admin/users/{id}", badMode)).error?.error.code).toBe("invalid_request");

    // Every authenticated operation refuses a request without credentials, in the documented shape.
    for (const [template, operations] of Object.entries(contract.document.paths as Record<string, any>)) {
      for (const [method, op] of Object.entries(operations as Record<string, any>)) {
        if (!op.security.length) continue;
        const path = template.replace(/\{[^}]+\}/g, "x");
        const res = await contract.fetch(`${baseUrl}${path}`, { method: method.toUpperCase() });
        expect(res.status, `${method} ${template}`).toBe(401);
      }
    }

    // Every documented operation was seen answering (2xx/3xx), and seen failing (4xx).
    const ids = contract.operationIds();
    const unanswered = ids.filter((id) => ![...(contract.seen.get(id) ?? [])].some((s) => s < 400));
    const neverFailed = ids.filter((id) => ![...(contract.seen.get(id) ?? [])].some((s) => s >= 400));
    expect(unanswered, "operations never seen succeeding").toEqual([]);
    expect(neverFailed, "operations never seen failing").toEqual(["health", "getOpenApiDocument", "getDocsPage"]);
  });
});
