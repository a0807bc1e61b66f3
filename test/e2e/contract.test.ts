// The contract test: drives every route of the running local stack through the typed client (client/),
// success and error, and validates each real response against the OpenAPI document the Worker serves.
// It ends by checking that every documented operation was seen answering, and seen failing.
import { describe, expect, inject, it } from "vitest";
import { type components, createPhoenixClient, type ExecutionResult } from "../../client/index.ts";
import { Contract } from "./contract.ts";

type SharedRun = components["schemas"]["SharedRun"];

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

    // ── Contexts, results, events, artifacts, shares ──
    // Stateful runs need an interpreter sandbox: a conversation of their own ("contract" holds a plain one).
    const interp = { params: { path: { conversationId: "contract-interp" } } };
    expect((await client.GET("/api/v1/sandboxes/{conversationId}/contexts", interp)).data?.items).toEqual([]);
    const newContext = await client.POST("/api/v1/sandboxes/{conversationId}/contexts", {
      ...interp,
      body: { language: "python" },
    });
    expect(newContext.response.status).toBe(201);
    const ctx = newContext.data!;
    expect(ctx).toMatchObject({ language: "python", cwd: "/home/user", default: false });
    const plainOne = await client.POST("/api/v1/sandboxes/{conversationId}/contexts", {
      params: { path: { conversationId: "contract" } },
      body: { language: "python" },
    });
    expect(plainOne.error?.error.code).toBe("conflict");
    const shellContext = { ...interp, body: { language: "shell" as "python" } };
    expect((await client.POST("/api/v1/sandboxes/{conversationId}/contexts", shellContext)).error?.error.code).toBe(
      "invalid_request",
    );
    const inContext = await client.POST("/api/v1/executions", {
      body: { language: "python", code: "x = 6\nx * 7", conversationId: "contract-interp", contextId: ctx.id },
    });
    expect((inContext.data as ExecutionResult).results).toEqual([
      { type: "text/plain", data: "42", isMainResult: true },
    ]);
    const contextPath = { params: { path: { conversationId: "contract-interp", id: ctx.id } } };
    const restarted = await client.POST("/api/v1/sandboxes/{conversationId}/contexts/{id}/restart", contextPath);
    expect(restarted.data).toEqual(ctx);
    // A result over 64 KiB: history shows it as a URL that serves its bytes.
    const large = await client.POST("/api/v1/executions", {
      body: { language: "python", code: "'x' * 70000", conversationId: "contract-interp", stateful: true },
    });
    const largeRun = large.data as ExecutionResult;
    expect(largeRun.results?.[0]?.data).toHaveLength(70000);
    const raised = await client.POST("/api/v1/executions", {
      body: {
        language: "python",
        code: "raise ValueError('bad input')",
        conversationId: "contract-interp",
        stateful: true,
      },
    });
    const raisedRun = raised.data as ExecutionResult;
    expect(raisedRun).toMatchObject({ status: "failed", error: { name: "ValueError", value: "bad input" } });
    const contextList = (await client.GET("/api/v1/sandboxes/{conversationId}/contexts", interp)).data!.items;
    expect(contextList).toContainEqual(ctx);
    expect(contextList.some((c) => c.default && c.language === "python")).toBe(true);
    const largeItem = (await client.GET("/api/v1/executions/{id}", { params: { path: { id: largeRun.id } } })).data;
    const shown = (largeItem as components["schemas"]["HistoryItem"]).results?.[0];
    expect(shown).toMatchObject({
      type: "text/plain",
      size: 70000,
      url: `/api/v1/executions/${largeRun.id}/results/0`,
    });
    const raisedItem = (await client.GET("/api/v1/executions/{id}", { params: { path: { id: raisedRun.id } } })).data;
    expect(raisedItem).toMatchObject({ error: "ValueError: bad input", exception: raisedRun.error, results: [] });
    const resultOf = (id: string, index: string) => ({ params: { path: { id, index } }, parseAs: "text" as const });
    const payload = await client.GET("/api/v1/executions/{id}/results/{index}", resultOf(largeRun.id, "0"));
    expect(payload.data).toBe(largeRun.results![0]!.data);
    expect(
      (await client.GET("/api/v1/executions/{id}/results/{index}", resultOf(largeRun.id, "1"))).error,
    ).toMatchObject({ error: { code: "not_found" } });
    expect((await client.DELETE("/api/v1/sandboxes/{conversationId}/contexts/{id}", contextPath)).response.status).toBe(
      204,
    );
    expect(
      (await client.DELETE("/api/v1/sandboxes/{conversationId}/contexts/{id}", contextPath)).error?.error.code,
    ).toBe("not_found");
    const restartGone = await client.POST("/api/v1/sandboxes/{conversationId}/contexts/{id}/restart", contextPath);
    expect(restartGone.error?.error.code).toBe("not_found");
    const inGone = await client.POST("/api/v1/executions", {
      body: { language: "python", code: "x", conversationId: "contract-interp", contextId: ctx.id },
    });
    expect(inGone.error?.error.code).toBe("not_found");
    // The events of a run that ended, replayed from where a client left off.
    const replay = await client.GET("/api/v1/executions/{id}/events", { ...runId, parseAs: "text" });
    expect(replay.data).toContain("event: end");
    const badAfter = { params: { path: { id: result.id }, query: { after: "nope" } } };
    expect((await client.GET("/api/v1/executions/{id}/events", badAfter)).error?.error.code).toBe("invalid_request");
    expect((await client.GET("/api/v1/executions/{id}/events", missing)).error?.error.code).toBe("not_found");
    // Artifacts: a run's changed files, downloaded, kept, and shared.
    const made = await client.POST("/api/v1/executions", {
      body: {
        language: "shell",
        code: "mkdir -p out && printf 'a,b\\n1,2\\n' > out/data.csv",
        conversationId: "contract",
        artifacts: true,
      },
    });
    const madeRun = made.data as ExecutionResult;
    expect(madeRun.artifacts).toEqual([{ path: "out/data.csv", size: 8, change: "created" }]);
    const artifact = (id: string, path: string) => ({ params: { path: { id, path } }, parseAs: "text" as const });
    const csv = await client.GET("/api/v1/executions/{id}/artifacts/{path}", artifact(madeRun.id, "out/data.csv"));
    expect(csv.data).toBe("a,b\n1,2\n");
    const noArtifact = await client.GET("/api/v1/executions/{id}/artifacts/{path}", artifact(madeRun.id, "nope.csv"));
    expect(noArtifact.error).toMatchObject({ error: { code: "not_found" } });
    const madePath = { params: { path: { id: madeRun.id } } };
    expect((await client.POST("/api/v1/executions/{id}/artifacts/keep", madePath)).data).toEqual({
      executionId: madeRun.id,
      artifacts: 1,
      bytes: 8,
    });
    expect((await client.POST("/api/v1/executions/{id}/artifacts/keep", runId)).error?.error.code).toBe("conflict");
    const keptRun = await client.POST("/api/v1/executions", {
      body: { language: "shell", code: "echo k > kept.txt", conversationId: "contract", keepArtifacts: true },
    });
    expect(keptRun.data).toMatchObject({
      artifacts: [{ path: "kept.txt", size: 2 }],
      kept: { artifacts: 1, bytes: 2 },
    });
    const many = await client.POST("/api/v1/executions", {
      body: {
        language: "shell",
        code: "mkdir many && for i in $(seq 101); do : > many/$i; done",
        conversationId: "contract",
        artifacts: true,
      },
    });
    const manyRun = many.data as ExecutionResult;
    expect(manyRun).toMatchObject({ artifactsTruncated: true });
    expect(manyRun.artifacts).toHaveLength(100);
    const manyItem = await client.GET("/api/v1/executions/{id}", { params: { path: { id: manyRun.id } } });
    expect(manyItem.data).toMatchObject({ artifactsTruncated: true, artifacts: manyRun.artifacts });
    const withFiles = await client.POST("/api/v1/executions/{id}/shares", {
      ...madePath,
      body: { includeArtifacts: true, expiresIn: 3600 },
    });
    expect(withFiles.response.status).toBe(201);
    const share = withFiles.data!;
    const plainShare = await client.POST("/api/v1/executions/{id}/shares", {
      params: { path: { id: largeRun.id } },
    });
    expect(plainShare.response.status).toBe(201);
    const tooShort = await client.POST("/api/v1/executions/{id}/shares", { ...madePath, body: { expiresIn: 0 } });
    expect(tooShort.error?.error.message).toContain("expiresIn");
    expect((await client.POST("/api/v1/executions/{id}/shares", missing)).error?.error.code).toBe("not_found");
    const shares = (await client.GET("/api/v1/shares")).data!;
    expect(shares.items.map((s) => s.id).sort()).toEqual([share.id, plainShare.data!.id].sort());
    const token = { params: { path: { token: share.token } } };
    const asJson = { headers: { Accept: "application/json" } };
    const shared = (await anonymous.GET("/s/{token}", { ...token, ...asJson })).data as SharedRun;
    expect(shared).toMatchObject({ language: "shell", stdout: "", files: [{ path: "out/data.csv", size: 8 }] });
    // The file's link as the share gives it (its `/` unencoded).
    const sharedFile = await contract.fetch(`${baseUrl}${shared.files[0]!.url}`);
    expect(await sharedFile.text()).toBe("a,b\n1,2\n");
    const largeShared = await anonymous.GET("/s/{token}", {
      params: { path: { token: plainShare.data!.token } },
      ...asJson,
    });
    expect((largeShared.data as SharedRun).results[0]?.data).toHaveLength(70000);
    const page = await anonymous.GET("/s/{token}", { ...token, parseAs: "text" });
    expect(page.response.headers.get("Content-Type")).toContain("text/html");
    const sharedPath = (path: string) => ({ params: { path: { token: share.token, path } }, parseAs: "text" as const });
    expect((await anonymous.GET("/s/{token}/artifacts/{path}", sharedPath("out/data.csv"))).data).toBe("a,b\n1,2\n");
    expect((await anonymous.GET("/s/{token}/artifacts/{path}", sharedPath("nope.csv"))).error).toMatchObject({
      error: { code: "not_found" },
    });
    expect((await client.DELETE("/api/v1/shares/{token}", token)).response.status).toBe(204);
    expect((await client.DELETE("/api/v1/shares/{token}", token)).error?.error.code).toBe("not_found");
    const revoked = await anonymous.GET("/s/{token}", { ...token, ...asJson });
    expect(revoked.error).toMatchObject({ error: { code: "not_found" } });
    const revokedPage = await anonymous.GET("/s/{token}", { ...token, parseAs: "text" });
    expect(revokedPage.response.status).toBe(404);
    expect((await client.DELETE("/api/v1/sandboxes/{conversationId}", interp)).response.status).toBe(204);

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

    // ── Terminal ──
    const ticketed = await client.POST("/api/v1/sandboxes/{conversationId}/terminal/tickets", conversation);
    expect(ticketed.response.status).toBe(201);
    expect((await client.POST("/api/v1/sandboxes/{conversationId}/terminal/tickets", badId)).error?.error.code).toBe(
      "invalid_request",
    );
    const terminal = (ticket: string) => ({ params: { path: { conversationId: "contract" }, query: { ticket } } });
    // fetch cannot open a WebSocket (it sends no `Upgrade`): through the typed client the socket is a 426,
    // which leaves the ticket unspent…
    const notUpgraded = await client.GET(
      "/api/v1/sandboxes/{conversationId}/terminal",
      terminal(ticketed.data!.ticket),
    );
    expect(notUpgraded.error?.error.code).toBe("upgrade_required");
    expect(
      (await client.GET("/api/v1/sandboxes/{conversationId}/terminal", terminal("usr_x.forged"))).error?.error.code,
    ).toBe("unauthorized");
    // …and its success, a 101, is seen by a real WebSocket (no Response can carry a 101 to the checker).
    const shell = await new Promise<string>((resolve, reject) => {
      const socket = new WebSocket(ticketed.data!.url);
      socket.binaryType = "arraybuffer";
      let output = "";
      socket.addEventListener("open", () => socket.send(new TextEncoder().encode("echo $((6*7))\r")));
      socket.addEventListener("message", (event) => {
        if (typeof event.data === "string") return;
        output += new TextDecoder().decode(event.data as ArrayBuffer);
        if (output.includes("42\r\n")) {
          socket.close(1000, "done");
          resolve(output);
        }
      });
      socket.addEventListener("close", (event) => reject(new Error(`closed ${event.code}: ${output}`)));
    });
    expect(shell).toContain("42\r\n");
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
    const scratch = await client.PUT("/api/v1/sandboxes/{conversationId}/file", {
      ...inSandbox("scratch.txt"),
      body: "x" as never,
      bodySerializer: (b: unknown) => b as string,
      headers: { "Content-Type": "application/octet-stream" },
    });
    expect(scratch.data?.path).toBe("/home/user/scratch.txt");
    expect(
      (await client.DELETE("/api/v1/sandboxes/{conversationId}/file", inSandbox("scratch.txt"))).response.status,
    ).toBe(204);
    expect(
      (await client.DELETE("/api/v1/sandboxes/{conversationId}/file", inSandbox("scratch.txt"))).error?.error.code,
    ).toBe("not_found");
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

    // ── Schedules, webhooks, tools, MCP ──
    const schedule = await client.POST("/api/v1/schedules", {
      body: { cron: "0 9 * * 1-5", timezone: "Europe/Paris", language: "shell", code: "echo scheduled" },
    });
    expect(schedule.response.status).toBe(201);
    const scheduleId = { params: { path: { id: schedule.data!.id } } };
    const noSchedule = { params: { path: { id: "sch_missing" } } };
    const both = { cron: "* * * * *", at: "2099-01-01T00:00:00Z", language: "shell" as const, code: "true" };
    expect((await client.POST("/api/v1/schedules", { body: both })).error?.error.message).toContain("cron");
    expect((await client.GET("/api/v1/schedules")).data?.items.map((s) => s.id)).toEqual([schedule.data!.id]);
    expect((await client.GET("/api/v1/schedules/{id}", scheduleId)).data?.timezone).toBe("Europe/Paris");
    expect((await client.GET("/api/v1/schedules/{id}", noSchedule)).error?.error.code).toBe("not_found");
    const paused = await client.PATCH("/api/v1/schedules/{id}", { ...scheduleId, body: { enabled: false } });
    expect(paused.data).toMatchObject({ enabled: false, nextRunAt: null });
    const patchMissing = await client.PATCH("/api/v1/schedules/{id}", { ...noSchedule, body: { enabled: true } });
    expect(patchMissing.error?.error.code).toBe("not_found");
    const ranNow = await client.POST("/api/v1/schedules/{id}/run", scheduleId);
    expect(ranNow.data).toMatchObject({ status: "succeeded", stdout: "scheduled\n", trigger: "schedule" });
    // A schedule runs at most once a minute, "run now" included.
    expect((await client.POST("/api/v1/schedules/{id}/run", scheduleId)).error?.error.code).toBe("rate_limited");
    expect((await client.DELETE("/api/v1/schedules/{id}", scheduleId)).response.status).toBe(204);
    expect((await client.DELETE("/api/v1/schedules/{id}", scheduleId)).error?.error.code).toBe("not_found");
    expect((await client.POST("/api/v1/schedules/{id}/run", noSchedule)).error?.error.code).toBe("not_found");

    // Nothing listens at the target: deliveries are recorded (failed, to be retried) all the same.
    const hook = await client.POST("/api/v1/webhooks", {
      body: { url: "http://127.0.0.1:9/contract-hook", events: ["execution.completed"], description: "contract" },
    });
    expect(hook.response.status).toBe(201);
    expect(hook.data?.secret).toBeTruthy();
    const hookId = { params: { path: { id: hook.data!.id } } };
    const noHook = { params: { path: { id: "whk_missing" } } };
    const ftp = await client.POST("/api/v1/webhooks", { body: { url: "ftp://example.com/hook" } });
    expect(ftp.error?.error.message).toContain("url");
    expect((await client.GET("/api/v1/webhooks")).data?.items.map((h) => h.id)).toEqual([hook.data!.id]);
    expect((await client.GET("/api/v1/webhooks/{id}", hookId)).data).not.toHaveProperty("secret");
    expect((await client.GET("/api/v1/webhooks/{id}", noHook)).error?.error.code).toBe("not_found");
    const tested = await client.POST("/api/v1/webhooks/{id}/test", hookId);
    expect(tested.response.status).toBe(202);
    expect(tested.data?.eventType).toBe("webhook.test");
    expect((await client.POST("/api/v1/webhooks/{id}/test", noHook)).error?.error.code).toBe("not_found");
    const deliveries = await client.GET("/api/v1/webhooks/{id}/deliveries", hookId);
    expect(deliveries.data?.items.map((d) => d.id)).toEqual([tested.data!.id]);
    const badLimit = { params: { path: hookId.params.path, query: { limit: 0 } } };
    expect((await client.GET("/api/v1/webhooks/{id}/deliveries", badLimit)).error?.error.code).toBe("invalid_request");
    const delivery = { params: { path: { id: hook.data!.id, deliveryId: tested.data!.id } } };
    const retried = await client.POST("/api/v1/webhooks/{id}/deliveries/{deliveryId}/retry", delivery);
    // Attempts go through the queue: the answer is the delivery, pending its new attempt.
    expect(retried.data).toMatchObject({ id: tested.data!.id, status: "pending" });
    const noDelivery = { params: { path: { id: hook.data!.id, deliveryId: "dlv_missing" } } };
    expect(
      (await client.POST("/api/v1/webhooks/{id}/deliveries/{deliveryId}/retry", noDelivery)).error?.error.code,
    ).toBe("not_found");
    expect((await client.DELETE("/api/v1/webhooks/{id}", hookId)).response.status).toBe(204);
    expect((await client.DELETE("/api/v1/webhooks/{id}", hookId)).error?.error.code).toBe("not_found");

    const anthropic = await client.GET("/api/v1/tools", { params: { query: { format: "anthropic" } } });
    expect(anthropic.data?.format).toBe("anthropic");
    expect(anthropic.data?.tools.length).toBeGreaterThan(0);
    const gemini = { params: { query: { format: "gemini" as "openai" } } };
    expect((await client.GET("/api/v1/tools", gemini)).error?.error.message).toContain("format");

    // /mcp speaks JSON-RPC: through the checked fetch directly rather than the typed client.
    const mcp = (init: { method: string; body?: unknown; headers?: Record<string, string> }) =>
      contract.fetch(`${baseUrl}/mcp`, {
        method: init.method,
        headers: {
          Authorization: `Bearer ${user.apiKey}`,
          Accept: "application/json, text/event-stream",
          "Content-Type": "application/json",
          ...init.headers,
        },
        ...(init.body ? { body: JSON.stringify(init.body) } : {}),
      });
    const protocolVersion = "2025-11-25";
    const initialize = await mcp({
      method: "POST",
      body: {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion, capabilities: {}, clientInfo: { name: "contract", version: "1.0.0" } },
      },
    });
    expect(initialize.status).toBe(200);
    expect(await initialize.text()).toContain('"serverInfo"');
    const session = initialize.headers.get("Mcp-Session-Id")!;
    expect(session).toBeTruthy();
    const inSession = { "Mcp-Session-Id": session, "MCP-Protocol-Version": protocolVersion };
    const initialized = await mcp({
      method: "POST",
      headers: inSession,
      body: { jsonrpc: "2.0", method: "notifications/initialized" },
    });
    expect(initialized.status).toBe(202);
    const sessionless = await mcp({ method: "POST", body: { jsonrpc: "2.0", id: 2, method: "tools/list" } });
    expect(sessionless.status).toBe(400);
    expect(((await sessionless.json()) as { error: { message: string } }).error.message).toContain("Mcp-Session-Id");
    expect((await mcp({ method: "GET" })).status).toBe(405);
    expect((await mcp({ method: "DELETE", headers: inSession })).status).toBe(200);
    expect((await mcp({ method: "DELETE", headers: inSession })).status).toBe(404);

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
    // GET /mcp only ever answers 405: Phoenix offers no standing SSE stream. The terminal's success is a
    // 101 Switching Protocols, which fetch cannot see: a real WebSocket saw it above (── Terminal ──).
    expect(unanswered, "operations never seen succeeding").toEqual(["openTerminal", "mcpOpenStream"]);
    expect(neverFailed, "operations never seen failing").toEqual(["health", "getOpenApiDocument", "getDocsPage"]);
  });
});
