// What a tool is: the one table entry that feeds both MCP (`tools/list`, `tools/call`) and the
// function-calling definitions of GET /api/v1/tools, and what it runs with.
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { UserSpaceStub } from "../durable/stub.ts";
import type { AuthedUser } from "../types.ts";

/** Everything a tool call may touch: the caller's own Durable Object, bindings and identity. */
export interface ToolContext {
  env: Env;
  user: AuthedUser;
  space: UserSpaceStub;
  /** The conversation used when the arguments name none: the MCP session's own. */
  conversationId: string;
  requestId: string;
}

/** MCP's behaviour hints (2025-11-25): what a client may tell its user before it calls the tool. */
export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  /** True for tools that reach beyond the user's own sandboxes and files (e.g. a package registry). */
  openWorldHint: boolean;
}

export interface Tool<S extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  /** Written for a model: what the tool does, when to use it, what comes back. */
  description: string;
  input: S;
  annotations: ToolAnnotations;
  run(args: z.output<S>, ctx: ToolContext): Promise<CallToolResult>;
}

/** Keeps each entry's `run` typed by its own schema while the table holds them all. */
export function defineTool<S extends z.ZodObject>(tool: Tool<S>): Tool {
  return tool as unknown as Tool;
}

/**
 * The JSON Schema of a tool's arguments, as both surfaces publish it: what a caller may send (`io:
 * "input"`, so defaulted fields are optional), in JSON Schema 2020-12, MCP's default dialect (the
 * `$schema` key is left out: function-calling APIs want the bare schema).
 */
export function inputJsonSchema(tool: Tool): { type: "object"; [key: string]: unknown } {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(tool.input, { io: "input", target: "draft-2020-12" });
  return { ...schema, type: "object" };
}
