// Stateful runs through @e2b/code-interpreter: a cell in a context of the sandbox's interpreter
// server (port 49999), streamed and capped like a plain run, and interruptible (cancel, timeout).
import { AsyncLocalStorage } from "node:async_hooks";
import type { Result } from "@e2b/code-interpreter";
import { TimeoutError } from "e2b";
import type { InterpreterError, InterpreterResult } from "../executions/types.ts";
import { CappedOutput } from "../executions/output.ts";
import type { RunOptions, RunOutput, Sandbox } from "../sandbox/e2b.ts";
import { utf8Length } from "../text.ts";
import { type CodeContext, toServerContext } from "./wire.ts";

/** How a stateful run ended: like a plain run, plus the interpreter's results and exception. */
export type CellOutcome = RunOutput &
  (
    | { kind: "completed"; results: InterpreterResult[]; error?: InterpreterError }
    | { kind: "timed_out" }
    | { kind: "cancelled" }
    | { kind: "sandbox_lost"; error: unknown }
  );

/** Named formats of a result, richest first, with the MIME type each stands for. */
const RESULT_FORMATS = [
  ["png", "image/png"],
  ["jpeg", "image/jpeg"],
  ["svg", "image/svg+xml"],
  ["pdf", "application/pdf"],
  ["html", "text/html"],
  ["json", "application/json"],
  ["markdown", "text/markdown"],
  ["latex", "text/latex"],
  ["javascript", "application/javascript"],
  ["text", "text/plain"],
] as const;

/** One result in its richest format; null for one with none Phoenix shows (e.g. chart data only). */
export function toInterpreterResult(result: Result): InterpreterResult | null {
  for (const [field, type] of RESULT_FORMATS) {
    // Typed as strings by the SDK, but `json` arrives parsed (an object): sent on as JSON text.
    const data: unknown = result[field];
    if (data === undefined || data === null) continue;
    return { type, data: typeof data === "string" ? data : JSON.stringify(data), isMainResult: result.isMainResult };
  }
  return null;
}

/**
 * The signal that aborts the cell's request. `Sandbox.runCode` takes none, yet closing its request is
 * how a cell is interrupted: E2B's server (and e2b-local's) interrupts the kernel when the client of
 * an /execute goes away, keeping the context and its variables (e2b-dev/code-interpreter#213). So the
 * SDK's own fetch gets the run's signal added, for the requests made inside `withCellSignal` only.
 */
const cellSignal = new AsyncLocalStorage<AbortSignal>();
let fetchWrapped = false;

function withCellSignal<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  if (!fetchWrapped) {
    fetchWrapped = true;
    const plain = globalThis.fetch;
    globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      const extra = cellSignal.getStore();
      if (!extra) return plain(input, init);
      const signal = init?.signal ? AbortSignal.any([init.signal, extra]) : extra;
      return plain(input, { ...init, signal });
    }) as typeof fetch;
  }
  return cellSignal.run(signal, fn);
}

/**
 * Runs code in `context` (its state carries over from run to run), streamed and capped like a plain
 * run. `onStarted` gets the function that interrupts the cell: the run then ends `cancelled`, and the
 * context keeps its state, as it does when the cell is cut at its timeout.
 */
export async function runCell(sandbox: Sandbox, context: CodeContext, opts: RunOptions): Promise<CellOutcome> {
  const stdout = new CappedOutput(opts.outputLimitBytes);
  const stderr = new CappedOutput(opts.outputLimitBytes);
  const results: InterpreterResult[] = [];
  const output = (): RunOutput => ({
    stdout: stdout.text(),
    stderr: stderr.text(),
    truncated: stdout.truncated || stderr.truncated,
  });
  const abort = new AbortController();
  opts.onStarted?.(async () => abort.abort());
  const started = Date.now();
  try {
    const execution = await withCellSignal(abort.signal, () =>
      sandbox.runCode(opts.code, {
        context: toServerContext(context),
        envs: opts.envs,
        timeoutMs: opts.timeoutMs,
        onStdout: (message) => {
          const kept = stdout.push(message.line);
          if (kept) opts.onStdout?.(kept);
        },
        onStderr: (message) => {
          const kept = stderr.push(message.line);
          if (kept) opts.onStderr?.(kept);
        },
      }),
    );
    // Results share the output cap: past it they are dropped and the run is marked truncated.
    let resultBytes = 0;
    let resultsCut = false;
    for (const result of execution.results) {
      const shown = toInterpreterResult(result);
      if (!shown) continue;
      resultBytes += utf8Length(shown.data);
      if (resultBytes > opts.outputLimitBytes) resultsCut = true;
      else results.push(shown);
    }
    const error = execution.error
      ? { name: execution.error.name, value: execution.error.value, traceback: execution.error.traceback }
      : undefined;
    const ran = output();
    return { kind: "completed", results, ...(error ? { error } : {}), ...ran, truncated: ran.truncated || resultsCut };
  } catch (error) {
    // Either way the request was closed, so the server interrupted the cell (state is kept).
    if (abort.signal.aborted) return { kind: "cancelled", ...output() };
    if (error instanceof TimeoutError && Date.now() - started >= opts.timeoutMs - 50) {
      return { kind: "timed_out", ...output() };
    }
    return { kind: "sandbox_lost", error, ...output() };
  }
}
