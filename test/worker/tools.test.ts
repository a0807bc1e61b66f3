// GET /api/v1/tools (function-calling definitions from the MCP tool table) and /mcp's HTTP edges:
// the key checked before any message, sessions minted by initialize and required after it.
import { describe, expect, it } from "vitest";
import { call, createUser, type ErrorBody, OWNER_TOKEN } from "./helpers.ts";

const TOOL_NAMES = [
  "run_code",
  "list_files",
  "read_file",
  "write_file",
  "install_packages",
  "volume_list",
  "volume_read",
  "volume_write",
  "list_executions",
  "get_execution",
];

interface OpenAiTool {
  type: string;
  function: { name: string; description: string; parameters: { type: string; $schema?: string; properties: object } };
}
interface AnthropicTool {
  name: string;
  description: string;
  input_schema: { type: string; properties: object; required?: string[] };
}

const MCP_HEADERS = { "Content-Type": "application/json", Accept: "application/json, text/event-stream" };

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "worker-test", version: "1" } },
};

/** The JSON-RPC messages of an SSE answer (the transport's default for requests). */
async function sseMessages(res: Response): Promise<any[]> {
  const body = await res.text();
  return body
    .split("\n")
    .filter((line) => line.startsWith("data: ") && line.length > 6)
    .map((line) => JSON.parse(line.slice(6)));
}

describe("GET /api/v1/tools", () => {
  it("gives OpenAI function definitions by default and with format=openai", async () => {
    const { apiKey } = await createUser();
    for (const path of ["/api/v1/tools", "/api/v1/tools?format=openai"]) {
      const res = await call(path, { key: apiKey });
      expect(res.status).toBe(200);
      const body = await res.json<{ format: string; tools: OpenAiTool[] }>();
      expect(body.format).toBe("openai");
      expect(body.tools.map((tool) => tool.function.name)).toEqual(TOOL_NAMES);
      for (const tool of body.tools) {
        expect(tool.type).toBe("function");
        expect(tool.function.description.length).toBeGreaterThan(60);
        expect(tool.function.parameters.type).toBe("object");
        expect(tool.function.parameters.$schema).toBeUndefined();
      }
    }
  });

  it("gives Anthropic tool definitions with format=anthropic, with the same schemas", async () => {
    const { apiKey } = await createUser();
    const openai = await (await call("/api/v1/tools?format=openai", { key: apiKey })).json<{ tools: OpenAiTool[] }>();
    const res = await call("/api/v1/tools?format=anthropic", { key: apiKey });
    expect(res.status).toBe(200);
    const { tools } = await res.json<{ tools: AnthropicTool[] }>();
    expect(tools.map((tool) => Object.keys(tool).sort())).toEqual(
      TOOL_NAMES.map(() => ["description", "input_schema", "name"]),
    );
    expect(tools.map((tool) => [tool.name, tool.description, tool.input_schema])).toEqual(
      openai.tools.map((tool) => [tool.function.name, tool.function.description, tool.function.parameters]),
    );
    const runCode = tools.find((tool) => tool.name === "run_code")!;
    expect(runCode.input_schema.required).toEqual(["language", "code"]);
    expect(runCode.input_schema.properties).toMatchObject({
      language: { enum: ["python", "node", "shell"] },
      stateful: { type: "boolean" },
    });
  });

  it("refuses an unknown format with 400 naming it", async () => {
    const { apiKey } = await createUser();
    const res = await call("/api/v1/tools?format=gemini", { key: apiKey });
    expect(res.status).toBe(400);
    const body = await res.json<ErrorBody>();
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.message).toMatch(/^format: must be one of openai, anthropic/);
  });

  it("refuses no key and a revoked key with 401", async () => {
    const user = await createUser();
    expect((await call("/api/v1/tools")).status).toBe(401);
    expect((await call("/api/v1/tools", { key: "phx_not-a-key" })).status).toBe(401);
    expect((await call(`/api/v1/admin/keys/${user.keyId}`, { key: OWNER_TOKEN, method: "DELETE" })).status).toBe(204);
    const res = await call("/api/v1/tools", { key: user.apiKey });
    expect(res.status).toBe(401);
    expect((await res.json<ErrorBody>()).error.code).toBe("unauthorized");
  });
});

describe("/mcp over HTTP", () => {
  it("answers 401 with a Bearer challenge before reading any message, whatever the method", async () => {
    const user = await createUser();
    expect((await call(`/api/v1/admin/keys/${user.keyId}`, { key: OWNER_TOKEN, method: "DELETE" })).status).toBe(204);
    for (const key of [undefined, "phx_unknown", user.apiKey]) {
      for (const method of ["POST", "GET", "DELETE"]) {
        // Not even JSON: a 401 proves the body was never looked at.
        const body = method === "POST" ? "not json" : undefined;
        const res = await call("/mcp", { key, method, headers: MCP_HEADERS, ...(body ? { body } : {}) });
        expect(res.status, `${method} with ${key ?? "no key"}`).toBe(401);
        expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer realm="phoenix"/);
        expect((await res.json<ErrorBody>()).error.code).toBe("unauthorized");
      }
    }
  });

  it("mints a session on initialize, then requires it: 400 without, 404 unknown or ended", async () => {
    const { apiKey } = await createUser();
    const init = await call("/mcp", { key: apiKey, headers: MCP_HEADERS, body: JSON.stringify(initialize) });
    expect(init.status).toBe(200);
    const sessionId = init.headers.get("Mcp-Session-Id");
    expect(sessionId).toMatch(/^mcp_[0-9a-z]{25}$/);
    const [hello] = await sseMessages(init);
    expect(hello.result.protocolVersion).toBe("2025-11-25");
    expect(hello.result.serverInfo.name).toBe("phoenix");
    expect(hello.result.capabilities.tools).toBeDefined();
    expect(hello.result.instructions).toContain(sessionId);

    const list = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" });
    const session = { ...MCP_HEADERS, "Mcp-Session-Id": sessionId!, "Mcp-Protocol-Version": "2025-11-25" };
    const listed = await call("/mcp", { key: apiKey, headers: session, body: list });
    expect(listed.status).toBe(200);
    const [tools] = await sseMessages(listed);
    expect(tools.result.tools.map((tool: { name: string }) => tool.name)).toEqual(TOOL_NAMES);

    // An unknown tool is the client's protocol mistake: a JSON-RPC error, not a tool result.
    const unknown = JSON.stringify({
      jsonrpc: "2.0",
      id: 3,
      method: "tools/call",
      params: { name: "rm_rf", arguments: {} },
    });
    const [refused] = await sseMessages(await call("/mcp", { key: apiKey, headers: session, body: unknown }));
    expect(refused.error.code).toBe(-32602);

    const noSession = await call("/mcp", { key: apiKey, headers: MCP_HEADERS, body: list });
    expect(noSession.status).toBe(400);
    const strange = await call("/mcp", {
      key: apiKey,
      headers: { ...MCP_HEADERS, "Mcp-Session-Id": "mcp_0000000000000000000000000" },
      body: list,
    });
    expect(strange.status).toBe(404);
    expect((await strange.json<{ error: { code: number } }>()).error.code).toBe(-32001);

    // No standing stream is offered (the server sends nothing unprompted).
    const get = await call("/mcp", {
      key: apiKey,
      method: "GET",
      headers: { ...session, Accept: "text/event-stream" },
    });
    expect(get.status).toBe(405);
    expect(get.headers.get("Allow")).toBe("POST, DELETE");

    expect((await call("/mcp", { key: apiKey, method: "DELETE", headers: session })).status).toBe(200);
    expect((await call("/mcp", { key: apiKey, method: "DELETE", headers: session })).status).toBe(404);
    expect((await call("/mcp", { key: apiKey, headers: session, body: list })).status).toBe(404);
  });

  it("keeps each user's sessions to that user", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const init = await call("/mcp", { key: alice.apiKey, headers: MCP_HEADERS, body: JSON.stringify(initialize) });
    const sessionId = init.headers.get("Mcp-Session-Id")!;
    await init.body?.cancel();
    const list = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" });
    const res = await call("/mcp", {
      key: bob.apiKey,
      headers: { ...MCP_HEADERS, "Mcp-Session-Id": sessionId },
      body: list,
    });
    expect(res.status).toBe(404);
    expect(
      (await call("/mcp", { key: bob.apiKey, method: "DELETE", headers: { "Mcp-Session-Id": sessionId } })).status,
    ).toBe(404);
  });
});
