// The MCP server of one request: the SDK's low-level Server answering `tools/list` and `tools/call`
// from the tool table. Built per request (see routes/mcp.ts for why), which costs little: the
// table's JSON Schemas are derived once per isolate.
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type Tool as McpTool,
} from "@modelcontextprotocol/sdk/types.js";
import { ApiError } from "../errors.ts";
import { VERSION } from "../routes/health.ts";
import { describeIssues } from "../validation.ts";
import { errorResult } from "./content.ts";
import { inputJsonSchema, type Tool, type ToolContext } from "./tool.ts";
import { findTool, TOOLS } from "./tools.ts";

let listed: McpTool[] | undefined;

/** The table as `tools/list` answers it. */
export function mcpTools(): McpTool[] {
  listed ??= TOOLS.map((tool) => ({
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: inputJsonSchema(tool),
    annotations: { title: tool.title, ...tool.annotations },
  }));
  return listed;
}

export function mcpServer(ctx: ToolContext): Server {
  const server = new Server(
    { name: "phoenix", title: "Phoenix", version: VERSION },
    {
      capabilities: { tools: { listChanged: false } },
      instructions: `Phoenix runs code in isolated sandboxes. This session's sandbox is conversation '${ctx.conversationId}': files, installed packages and (stateful) Python/Node variables persist across this session's tool calls. Use run_code to compute rather than guess; its charts come back as images.`,
    },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: mcpTools() }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const tool = findTool(request.params.name);
    // Naming a tool that does not exist is the client's protocol mistake, not a failed run.
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`);
    return callTool(tool, request.params.arguments ?? {}, ctx);
  });
  return server;
}

/**
 * Runs one tool call. Wrong arguments and every API error become an `isError` result with the
 * HTTP API's code and message (a model can read and fix those); only a bug here is logged as such.
 */
export async function callTool(tool: Tool, args: unknown, ctx: ToolContext): Promise<CallToolResult> {
  const parsed = tool.input.safeParse(args);
  if (!parsed.success)
    return errorResult({ code: "invalid_request", message: describeIssues(parsed.error) }, ctx.requestId);
  try {
    return await tool.run(parsed.data, ctx);
  } catch (err) {
    if (err instanceof ApiError) return errorResult(err.toJSON(), ctx.requestId);
    console.error(`[${ctx.requestId}] tool ${tool.name} failed`, err);
    return errorResult(
      { code: "internal_error", message: "Internal error; quote the request id when reporting it." },
      ctx.requestId,
    );
  }
}
