// run_code and install_packages: the tool arguments turned into the same Durable Object calls the
// HTTP routes make (POST /api/v1/executions, POST …/packages), so a tool call is an ordinary
// execution — concurrency slot, timeout, history, stats — and fails with the same codes.
import { admitRun } from "../executions/admission.ts";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { limits } from "../config.ts";
import { ApiError } from "../errors.ts";
import { LANGUAGES, type ExecutionRequest, type Language } from "../executions/types.ts";
import { installSchema, offlineInstallProblem, PACKAGE_MANAGERS } from "../sandbox/packages.ts";
import { conversationIdSchema, describeIssues } from "../validation.ts";
import { errorResult, executionResult, jsonResult } from "./content.ts";
import type { ToolContext } from "./tool.ts";

export const conversationArg = conversationIdSchema
  .optional()
  .describe(
    "Which conversation (sandbox) to use. Omit it to use this chat's own sandbox, which keeps files, installed packages and (stateful) variables between calls; name another conversation only to reach files or state created elsewhere.",
  );

export const runCodeInput = z.object({
  language: z
    .enum(LANGUAGES, { error: `must be one of ${LANGUAGES.join(", ")}` })
    .describe("python (Python 3), node (JavaScript on Node.js) or shell (bash)."),
  code: z
    .string({ error: "must be a string" })
    .min(1, "must not be empty")
    .refine((s) => !s.includes("\u0000"), "must not contain NUL bytes (\\u0000)")
    .describe("The source to run, as a complete program or notebook cell."),
  conversationId: conversationArg,
  stateful: z
    .boolean({ error: "must be a boolean" })
    .optional()
    .describe(
      "Keep variables, imports and functions between calls, like a notebook cell (python and node only; the default for them). The last expression's value and any chart come back as results. Set false to run a fresh process.",
    ),
  timeoutMs: z
    .number()
    .int()
    .positive()
    .optional()
    .describe("Stop the run after this many milliseconds (default and maximum: the server's execution timeout)."),
});

/**
 * The one place an MCP tool call becomes an ExecutionRequest, checked as POST /api/v1/executions
 * checks it (code size, stateful shell, the timeout ceiling), so the errors read the same.
 */
export function executionRequest(
  args: z.output<typeof runCodeInput>,
  ctx: ToolContext,
  stateful: boolean,
): ExecutionRequest {
  const timeoutMs = admitRun(ctx.env, { ...args, stateful });
  return {
    language: args.language,
    code: args.code,
    conversationId: args.conversationId ?? ctx.conversationId,
    timeoutMs,
    envs: {},
    ...(stateful ? { stateful: true } : {}),
  };
}

/** Whether a run keeps state when the caller did not say: yes for the languages that can. */
function statefulByDefault(language: Language): boolean {
  return language !== "shell";
}

export async function runCode(args: z.output<typeof runCodeInput>, ctx: ToolContext): Promise<CallToolResult> {
  const stateful = args.stateful ?? statefulByDefault(args.language);
  const outcome = await ctx.space.execute(executionRequest(args, ctx, stateful));
  if (outcome.ok) return executionResult(outcome.value);
  // A conversation whose sandbox a plain run started (template `base`) cannot run stateful code (409).
  // When the model did not ask for state, run it plainly rather than fail: the refusal happens before
  // anything runs or is recorded.
  if (outcome.error.code === "conflict" && args.stateful === undefined && stateful) {
    const plain = await ctx.space.execute(executionRequest(args, ctx, false));
    if (plain.ok) {
      return executionResult(
        plain.value,
        "Note: ran as a fresh process (no state kept): this conversation's sandbox was started without the code interpreter.",
      );
    }
    return errorResult(plain.error, ctx.requestId);
  }
  return errorResult(outcome.error, ctx.requestId);
}

export const installInput = z.object({
  manager: z
    .enum(PACKAGE_MANAGERS, { error: `must be one of ${PACKAGE_MANAGERS.join(", ")}` })
    .describe("pip for Python packages, npm for Node.js packages."),
  packages: z
    .array(z.string({ error: "must be a string" }))
    .min(1, "must name at least one package")
    .max(50)
    .describe(
      "Package specs, e.g. ['requests>=2.31', 'numpy'] or ['lodash@4']; or paths of a wheel, tarball or package folder already in the sandbox ('./dist/pkg.whl').",
    ),
  conversationId: conversationArg,
  timeoutMs: z.number().int().positive().optional().describe("Stop the install after this many milliseconds."),
});

/** As POST …/:conversationId/packages: the spec rules, the timeout ceiling, the offline refusal. */
export async function installPackages(args: z.output<typeof installInput>, ctx: ToolContext): Promise<CallToolResult> {
  const parsed = installSchema.safeParse({ manager: args.manager, packages: args.packages, timeoutMs: args.timeoutMs });
  if (!parsed.success) throw new ApiError("invalid_request", describeIssues(parsed.error));
  const body = parsed.data;
  const ceiling = limits(ctx.env).installTimeoutMs;
  if (body.timeoutMs !== undefined && body.timeoutMs > ceiling) {
    throw new ApiError("invalid_request", `timeoutMs: must be at most ${ceiling} (INSTALL_TIMEOUT_MS)`);
  }
  if (ctx.env.SANDBOX_INTERNET_ACCESS !== "true") {
    const offline = offlineInstallProblem(body.manager, body.packages);
    if (offline) throw new ApiError("invalid_request", offline);
  }
  const outcome = await ctx.space.installSandboxPackages(args.conversationId ?? ctx.conversationId, body);
  if (!outcome.ok) return errorResult(outcome.error, ctx.requestId);
  const result = jsonResult({ ...outcome.value });
  return outcome.value.status === "succeeded" ? result : { ...result, isError: true };
}
