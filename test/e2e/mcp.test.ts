// /mcp against the whole local stack, driven by the official MCP client (the SDK's Client over its
// Streamable HTTP transport), as an assistant would: tools and their hints, runs that share the
// session's sandbox and state, failures as isError with the HTTP API's code and message, charts as
// images, users kept apart, keys checked before any message, and tool calls in history and stats.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, describe, expect, inject, it } from "vitest";
import { api, createUser } from "./browser.ts";

const baseUrl = inject("baseUrl");
const ownerToken = inject("ownerToken");

const clients: Client[] = [];

async function connect(apiKey: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${apiKey}` } },
  });
  const client = new Client({ name: "phoenix-e2e", version: "1.0.0" });
  await client.connect(transport);
  clients.push(client);
  return { client, transport };
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, undefined, { timeout: 110_000 })) as CallToolResult;
}

/** All text blocks of a result, joined. */
function text(result: CallToolResult): string {
  return result.content.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("\n");
}

async function httpRun(apiKey: string, body: Record<string, unknown>): Promise<{ status: number; json: any }> {
  const res = await api(baseUrl, apiKey, "/api/v1/executions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => {})));
});

describe("MCP over Streamable HTTP", () => {
  it("lists every tool with a schema, a description and behaviour hints, the same as /api/v1/tools", async () => {
    const user = await createUser(baseUrl, ownerToken, "mcp-list");
    const { client } = await connect(user.apiKey);
    expect(client.getServerVersion()?.name).toBe("phoenix");
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(
      [
        "get_execution",
        "install_packages",
        "list_executions",
        "list_files",
        "read_file",
        "run_code",
        "volume_list",
        "volume_read",
        "volume_write",
        "write_file",
      ].sort(),
    );
    for (const tool of tools) {
      expect(tool.description?.length).toBeGreaterThan(60);
      expect(tool.inputSchema.type).toBe("object");
      expect(typeof tool.annotations?.readOnlyHint).toBe("boolean");
      expect(typeof tool.annotations?.destructiveHint).toBe("boolean");
      expect(typeof tool.annotations?.idempotentHint).toBe("boolean");
    }
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    expect(byName.get("run_code")?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(byName.get("read_file")?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(byName.get("run_code")?.inputSchema.required).toEqual(["language", "code"]);
    expect(Object.keys(byName.get("run_code")?.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(["language", "code", "conversationId", "stateful"]),
    );

    const res = await api(baseUrl, user.apiKey, "/api/v1/tools?format=anthropic");
    const { tools: anthropic } = (await res.json()) as { tools: { name: string; input_schema: unknown }[] };
    expect(anthropic.map((tool) => [tool.name, tool.input_schema])).toEqual(
      tools.map((tool) => [tool.name, tool.inputSchema]),
    );
  });

  it("runs python: print(6*7) answers 42", async () => {
    const user = await createUser(baseUrl, ownerToken, "mcp-run");
    const { client } = await connect(user.apiKey);
    const result = await call(client, "run_code", { language: "python", code: "print(6*7)" });
    expect(result.isError).toBe(false);
    expect(result.content[0]).toEqual({ type: "text", text: "42\n" });
  });

  it("keeps one sandbox per session: a file and a variable carry over; another session has its own", async () => {
    const user = await createUser(baseUrl, ownerToken, "mcp-session");
    const { client, transport } = await connect(user.apiKey);
    const first = await call(client, "run_code", {
      language: "python",
      code: "open('note.txt', 'w').write('kept')\nsecret = 41",
    });
    expect(first.isError).toBe(false);
    const second = await call(client, "run_code", {
      language: "python",
      code: "print(open('note.txt').read(), secret + 1)",
    });
    expect(text(second)).toContain("kept 42");
    const read = await call(client, "read_file", { path: "note.txt" });
    expect(read.content[0]).toEqual({ type: "text", text: "kept" });
    // The session's conversation is its id: the HTTP API sees the same sandbox.
    const sessionId = transport.sessionId!;
    const info = await api(baseUrl, user.apiKey, `/api/v1/sandboxes/${sessionId}`);
    expect(info.status).toBe(200);

    const { client: other } = await connect(user.apiKey);
    const missing = await call(other, "run_code", { language: "python", code: "print(secret)" });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toContain("NameError");
    // …unless it names the first session's conversation.
    const named = await call(other, "read_file", { path: "note.txt", conversationId: sessionId });
    expect(named.content[0]).toEqual({ type: "text", text: "kept" });
  });

  it("answers a failing script with isError and the HTTP API's status, exit code, exception and error codes", async () => {
    const user = await createUser(baseUrl, ownerToken, "mcp-fail");
    const { client } = await connect(user.apiKey);

    // Stateful first (the default): the session's sandbox then serves plain runs too.
    const raised = await call(client, "run_code", { language: "python", code: "1 / 0" });
    expect(raised.isError).toBe(true);
    expect(text(raised)).toContain("ZeroDivisionError: division by zero");
    expect(raised.structuredContent).toMatchObject({ status: "failed", error: { name: "ZeroDivisionError" } });

    const exit = await call(client, "run_code", {
      language: "python",
      code: "import sys\nprint('bye', file=sys.stderr)\nsys.exit(3)",
      stateful: false,
    });
    const http = await httpRun(user.apiKey, {
      language: "python",
      code: "import sys\nprint('bye', file=sys.stderr)\nsys.exit(3)",
    });
    expect(exit.isError).toBe(true);
    expect(exit.structuredContent).toMatchObject({
      status: http.json.status,
      exitCode: http.json.exitCode,
      stderr: "bye\n",
    });
    expect(http.json).toMatchObject({ status: "failed", exitCode: 3 });
    expect(text(exit)).toContain("status: failed · exit code 3");

    // A refused request: the same code and message as the HTTP API's 400, as a tool result.
    const refused = await call(client, "run_code", { language: "shell", code: "echo hi", stateful: true });
    const refusedHttp = await httpRun(user.apiKey, { language: "shell", code: "echo hi", stateful: true });
    expect(refusedHttp.status).toBe(400);
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent).toMatchObject({
      error: { code: refusedHttp.json.error.code, message: refusedHttp.json.error.message },
    });
    expect(text(refused)).toBe(`invalid_request: ${refusedHttp.json.error.message}`);

    // Wrong arguments are a tool error naming the field, not a protocol error.
    const wrong = await call(client, "run_code", { language: "cobol", code: "x" });
    expect(wrong.isError).toBe(true);
    expect(text(wrong)).toMatch(/^invalid_request: language: must be one of python, node, shell/);
  });

  it("returns a matplotlib chart as PNG image content", async () => {
    const user = await createUser(baseUrl, ownerToken, "mcp-chart");
    const { client } = await connect(user.apiKey);
    const result = await call(client, "run_code", {
      language: "python",
      code: "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.title('chart')\nplt.show()",
    });
    expect(result.isError).toBe(false);
    const image = result.content.find((block) => block.type === "image");
    expect(image).toMatchObject({ type: "image", mimeType: "image/png" });
    const bytes = Buffer.from((image as { data: string }).data, "base64");
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });

  it("lists, reads and writes sandbox and volume files, installs a package, under the volume quota", async () => {
    const user = await createUser(baseUrl, ownerToken, "mcp-files");
    const { client } = await connect(user.apiKey);
    const png = Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==",
      "base64",
    );
    expect(
      (await call(client, "write_file", { path: "dot.png", content: png.toString("base64"), encoding: "base64" }))
        .structuredContent,
    ).toMatchObject({ path: "/home/user/dot.png", size: png.length });
    await call(client, "write_file", { path: "greet/package.json", content: '{"name":"greet","version":"1.0.0"}' });
    await call(client, "write_file", { path: "greet/index.js", content: 'module.exports = (who) => "hello, " + who;' });
    const listing = await call(client, "list_files", {});
    expect((listing.structuredContent as { items: { name: string }[] }).items.map((item) => item.name)).toEqual(
      expect.arrayContaining(["dot.png", "greet"]),
    );
    const image = await call(client, "read_file", { path: "dot.png" });
    expect(image.content[0]).toEqual({ type: "image", mimeType: "image/png", data: png.toString("base64") });

    const installed = await call(client, "install_packages", { manager: "npm", packages: ["./greet"] });
    expect(installed.isError).toBe(false);
    expect(installed.structuredContent).toMatchObject({ manager: "npm", status: "succeeded", exitCode: 0 });
    const greeted = await call(client, "run_code", {
      language: "node",
      code: "console.log(require('greet')('Ada'))",
      stateful: false,
    });
    expect(greeted.content[0]).toEqual({ type: "text", text: "hello, Ada\n" });
    // Registry packages without internet access: the HTTP API's 400, as a tool error.
    const offline = await call(client, "install_packages", { manager: "pip", packages: ["requests"] });
    expect(offline.isError).toBe(true);
    expect(text(offline)).toMatch(/^invalid_request: packages: 'requests' would come from PyPI/);

    const saved = await call(client, "volume_write", { name: "notes/today.txt", content: "remember" });
    expect(saved.structuredContent).toMatchObject({ name: "notes/today.txt", size: 8, replaced: false });
    const volume = await call(client, "volume_list", { prefix: "notes/" });
    expect(volume.structuredContent).toMatchObject({ items: [{ name: "notes/today.txt", size: 8 }], nextCursor: null });
    expect((await call(client, "volume_read", { name: "notes/today.txt" })).content[0]).toEqual({
      type: "text",
      text: "remember",
    });
    // The HTTP API reads the same file.
    expect(await (await api(baseUrl, user.apiKey, "/api/v1/volume/files/notes/today.txt")).text()).toBe("remember");
    const outside = await call(client, "volume_read", { name: "../other/secret" });
    expect(text(outside)).toBe("invalid_request: name: must not contain '..' segments");
    // Past the quota (1 MiB in this stack): refused, nothing stored.
    const big = await call(client, "volume_write", { name: "big.bin", content: "x".repeat(1024 * 1024) });
    expect(big.isError).toBe(true);
    expect(text(big)).toMatch(/^quota_exceeded: /);
    expect((await api(baseUrl, user.apiKey, "/api/v1/volume/files/big.bin")).status).toBe(404);
  });

  it("never lets two users' sessions share a sandbox", async () => {
    const alice = await createUser(baseUrl, ownerToken, "mcp-alice");
    const bob = await createUser(baseUrl, ownerToken, "mcp-bob");
    const { client: a, transport: aliceTransport } = await connect(alice.apiKey);
    const { client: b } = await connect(bob.apiKey);
    await call(a, "write_file", { path: "mine.txt", content: "alice's" });
    const aliceSession = aliceTransport.sessionId!;
    // Bob naming Alice's conversation reaches only his own (empty) space.
    const peek = await call(b, "read_file", { path: "mine.txt", conversationId: aliceSession });
    expect(peek.isError).toBe(true);
    expect(text(peek)).toMatch(/^not_found: /);
    const ls = await call(b, "run_code", { language: "shell", code: "ls /home/user" });
    expect(text(ls)).not.toContain("mine.txt");
    // Bob's key with Alice's session id: no such session for him.
    const hijack = await fetch(`${baseUrl}/mcp`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${bob.apiKey}`,
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        "Mcp-Session-Id": aliceSession,
        "Mcp-Protocol-Version": "2025-11-25",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(hijack.status).toBe(404);
  });

  it("refuses a missing or revoked key with 401 before any message is handled", async () => {
    const initialize = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } },
    };
    const headers = { "Content-Type": "application/json", Accept: "application/json, text/event-stream" };
    const none = await fetch(`${baseUrl}/mcp`, { method: "POST", headers, body: JSON.stringify(initialize) });
    expect(none.status).toBe(401);
    expect(none.headers.get("WWW-Authenticate")).toMatch(/^Bearer /);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe("unauthorized");

    const user = await createUser(baseUrl, ownerToken, "mcp-revoked");
    const { client } = await connect(user.apiKey);
    const keys = await api(baseUrl, ownerToken, `/api/v1/admin/users/${user.id}/keys`);
    const { items } = (await keys.json()) as { items: { id: string }[] };
    for (const key of items) {
      const revoked = await api(baseUrl, ownerToken, `/api/v1/admin/keys/${key.id}`, { method: "DELETE" });
      expect(revoked.ok).toBe(true);
    }
    // The open session is refused too: the key is checked on every request.
    await expect(client.listTools()).rejects.toMatchObject({ code: 401 });
    await expect(connect(user.apiKey)).rejects.toMatchObject({ code: 401 });
    for (const method of ["GET", "DELETE"]) {
      const res = await fetch(`${baseUrl}/mcp`, { method, headers: { Authorization: `Bearer ${user.apiKey}` } });
      expect(res.status).toBe(401);
    }
  });

  it("records tool calls as executions: history, stats, get_execution; ending the session closes its sandbox", async () => {
    const user = await createUser(baseUrl, ownerToken, "mcp-history");
    const { client, transport } = await connect(user.apiKey);
    const sessionId = transport.sessionId!;
    const result = await call(client, "run_code", { language: "node", code: "console.log(21 * 2)" });
    expect(text(result)).toContain("42");
    const id = (result.structuredContent as { id: string }).id;

    const history = await api(baseUrl, user.apiKey, `/api/v1/executions?conversationId=${sessionId}`);
    const { items } = (await history.json()) as { items: { id: string; code: string; language: string }[] };
    expect(items).toEqual([expect.objectContaining({ id, code: "console.log(21 * 2)", language: "node" })]);
    const stats = (await (await api(baseUrl, user.apiKey, "/api/v1/stats")).json()) as {
      user: { totalExecutions: number; byLanguage: Record<string, unknown> };
    };
    expect(stats.user.totalExecutions).toBe(1);
    expect(Object.keys(stats.user.byLanguage)).toEqual(["node"]);

    const got = await call(client, "get_execution", { id });
    expect(got.structuredContent).toMatchObject({ id, status: "succeeded", stdout: "42\n" });
    const listed = await call(client, "list_executions", { conversationId: sessionId });
    expect((listed.structuredContent as { items: { id: string }[] }).items.map((item) => item.id)).toEqual([id]);

    await transport.terminateSession();
    expect((await api(baseUrl, user.apiKey, `/api/v1/sandboxes/${sessionId}`)).status).toBe(404);
    const after = await fetch(`${baseUrl}/mcp`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${user.apiKey}`,
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        "Mcp-Session-Id": sessionId,
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
    });
    expect(after.status).toBe(404);
  });
});
