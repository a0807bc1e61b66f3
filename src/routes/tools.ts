// GET /api/v1/tools?format=openai|anthropic: the MCP tools as function-calling definitions, for
// assistants that call HTTP directly; read from the same table as /mcp (mcp/tools.ts).
import { Hono } from "hono";
import { z } from "zod";
import { FORMATS, functionTools } from "../mcp/function-calling.ts";
import { doc, json } from "../openapi/registry.ts";
import { functionToolsSchema } from "../openapi/schemas.ts";
import type { AppEnv } from "../types.ts";
import { validate } from "../validation.ts";

const query = z.object({
  format: z.enum(FORMATS, { error: `must be one of ${FORMATS.join(", ")}` }).default("openai"),
});

export const toolRoutes = new Hono<AppEnv>().get(
  "/",
  doc({
    operationId: "listFunctionTools",
    summary: "The MCP tools as function-calling definitions",
    description:
      "Ready to pass as the `tools` of an OpenAI Chat Completions (`format=openai`, the default) or Anthropic Messages (`format=anthropic`) request.",
    tags: ["tools"],
    auth: "user",
    responses: { 200: json(functionToolsSchema) },
    errors: [],
  }),
  validate("query", query),
  (c) => {
    const { format } = c.req.valid("query");
    return c.json({ format, tools: functionTools(format) });
  },
);
