// The tool table as function-calling definitions: OpenAI's (Chat Completions `tools`) and
// Anthropic's (Messages `tools`), each ready to pass as the `tools` of a request.
import { inputJsonSchema } from "./tool.ts";
import { TOOLS } from "./tools.ts";

export const FORMATS = ["openai", "anthropic"] as const;
export type FunctionFormat = (typeof FORMATS)[number];

export interface OpenAiTool {
  type: "function";
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

export interface AnthropicTool {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
}

export function functionTools(format: FunctionFormat): OpenAiTool[] | AnthropicTool[] {
  if (format === "anthropic") {
    return TOOLS.map((tool) => ({
      name: tool.name,
      description: tool.description,
      input_schema: inputJsonSchema(tool),
    }));
  }
  return TOOLS.map((tool) => ({
    type: "function",
    function: { name: tool.name, description: tool.description, parameters: inputJsonSchema(tool) },
  }));
}
