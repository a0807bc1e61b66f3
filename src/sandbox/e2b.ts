// The one place Phoenix talks to E2B (or e2b-local) through the official SDK.
import { Sandbox } from "@e2b/code-interpreter";
import {
  AuthenticationError,
  CommandExitError,
  RateLimitError,
  SandboxNotFoundError,
  ServiceBusyError,
  TimeoutError,
  type CommandHandle,
  type ConnectionOpts,
} from "e2b";
import { ApiError } from "../errors.ts";
import type { Language } from "../executions/types.ts";
import { CappedOutput } from "../executions/output.ts";
import { utf8Length } from "../text.ts";
import { codeFilePath, CODE_ENV, fileCommand, inlineCommand, MAX_INLINE_CODE_BYTES } from "./languages.ts";

// The code interpreter's Sandbox is the e2b one plus runCode (which only an interpreter template
// answers); every handle is one, so a conversation's sandbox serves plain and stateful runs alike.
export type { Sandbox };

export const SANDBOX_APP = "phoenix";

export interface SandboxMetadata {
  app: typeof SANDBOX_APP;
  userId: string;
  /** The conversation it was created for; a spare's says SPARE_CONVERSATION (durable/spare.ts) for good. */
  conversationId: string;
  [key: string]: string;
}

/** SDK options from the Worker's env; unset URLs mean E2B's cloud. */
export function connectionOpts(env: Env): ConnectionOpts {
  return {
    apiKey: env.E2B_API_KEY,
    ...(env.E2B_API_URL ? { apiUrl: env.E2B_API_URL } : {}),
    ...(env.E2B_SANDBOX_URL ? { sandboxUrl: env.E2B_SANDBOX_URL } : {}),
  };
}

/** The template plain runs get; stateful runs need `interpreterTemplate(env)`. */
export function baseTemplate(env: Env): string {
  return env.E2B_TEMPLATE || "base";
}

/** The template whose sandboxes run a code-interpreter server (stateful runs). */
export function interpreterTemplate(env: Env): string {
  return env.E2B_INTERPRETER_TEMPLATE || "code-interpreter-v1";
}

export async function createSandbox(
  env: Env,
  metadata: SandboxMetadata,
  timeoutMs: number,
  template: string = baseTemplate(env),
): Promise<Sandbox> {
  try {
    return await Sandbox.create(template, {
      ...connectionOpts(env),
      metadata,
      timeoutMs,
      // Explicit, so E2B and e2b-local (whose defaults differ) give untrusted code the same network.
      allowInternetAccess: env.SANDBOX_INTERNET_ACCESS === "true",
    });
  } catch (err) {
    throw sandboxUnavailable("Could not start a sandbox", err);
  }
}

export function connectSandbox(env: Env, sandboxId: string, timeoutMs: number): Promise<Sandbox> {
  return Sandbox.connect(sandboxId, { ...connectionOpts(env), timeoutMs });
}

/** Sets when E2B ends the sandbox (from now), by id: no connected handle needed. */
export function setSandboxTimeout(env: Env, sandboxId: string, timeoutMs: number): Promise<void> {
  return Sandbox.setTimeout(sandboxId, timeoutMs, connectionOpts(env));
}

/** Kills a sandbox by id; false when it was already gone. */
export function killSandbox(env: Env, sandboxId: string): Promise<boolean> {
  return Sandbox.kill(sandboxId, connectionOpts(env));
}

/** When E2B will end the sandbox (epoch ms), or null when it no longer runs it. */
export async function sandboxEndsAt(env: Env, sandboxId: string): Promise<number | null> {
  try {
    return (await Sandbox.getInfo(sandboxId, connectionOpts(env))).endAt.getTime();
  } catch (err) {
    if (err instanceof SandboxNotFoundError) return null;
    throw err;
  }
}

export interface RunningSandbox {
  sandboxId: string;
  metadata: Record<string, string>;
  /** Epoch ms. */
  startedAt: number;
}

/**
 * Every running sandbox Phoenix created, across all users (for orphan reaping), or only those
 * whose metadata also matches `filter` (e.g. one user's).
 */
export async function listPhoenixSandboxes(env: Env, filter: Record<string, string> = {}): Promise<RunningSandbox[]> {
  const paginator = Sandbox.list({ ...connectionOpts(env), query: { metadata: { ...filter, app: SANDBOX_APP } } });
  const found: RunningSandbox[] = [];
  while (paginator.hasNext) {
    for (const info of await paginator.nextItems()) {
      found.push({ sandboxId: info.sandboxId, metadata: info.metadata, startedAt: info.startedAt.getTime() });
    }
  }
  return found;
}

/** Maps an SDK failure to the API error the client sees (502/503/504). */
export function sandboxUnavailable(what: string, err: unknown): ApiError {
  const detail = err instanceof Error ? err.message : String(err);
  if (err instanceof RateLimitError || err instanceof ServiceBusyError) {
    return new ApiError("sandbox_busy", `${what}: the sandbox provider is busy (${detail})`, { retryAfterSeconds: 5 });
  }
  if (err instanceof TimeoutError)
    return new ApiError("sandbox_timeout", `${what}: the sandbox provider timed out (${detail})`);
  if (err instanceof AuthenticationError)
    return new ApiError("sandbox_unavailable", `${what}: the sandbox provider refused Phoenix's credentials`);
  return new ApiError("sandbox_unavailable", `${what}: ${detail}`);
}

export interface RunOptions {
  language: Language;
  code: string;
  executionId: string;
  timeoutMs: number;
  envs: Record<string, string>;
  outputLimitBytes: number;
  onStdout?: (data: string) => void;
  onStderr?: (data: string) => void;
  /** Called once the process runs, with a function that kills it (the run then ends `cancelled`). */
  onStarted?: (cancel: () => Promise<void>) => void;
  /** Shell run just before the code in the same command (the artifact listing): no extra round trip. */
  prelude?: string;
}

export interface RunOutput {
  stdout: string;
  stderr: string;
  truncated: boolean;
}

/** How a run ended, with the output it produced (a lost sandbox keeps what had streamed before). */
export type RunOutcome = RunOutput &
  (
    | { kind: "exited"; exitCode: number }
    | { kind: "timed_out" }
    | { kind: "cancelled" }
    | { kind: "sandbox_lost"; error: unknown }
  );

/** Runs code to completion in `sandbox`: one command, streamed, capped, killed at the deadline. */
export async function runCode(sandbox: Sandbox, opts: RunOptions): Promise<RunOutcome> {
  const stdout = new CappedOutput(opts.outputLimitBytes);
  const stderr = new CappedOutput(opts.outputLimitBytes);
  const envs: Record<string, string> = { ...opts.envs, PYTHONUNBUFFERED: "1" };
  let cmd: string;
  if (utf8Length(opts.code) <= MAX_INLINE_CODE_BYTES) {
    cmd = inlineCommand(opts.language);
    envs[CODE_ENV] = opts.code;
  } else {
    const path = codeFilePath(opts.language, opts.executionId);
    try {
      await sandbox.files.write(path, opts.code);
    } catch (error) {
      return { kind: "sandbox_lost", error, stdout: "", stderr: "", truncated: false };
    }
    cmd = `${fileCommand(opts.language, path)}`;
  }
  if (opts.prelude) cmd = `${opts.prelude}; ${cmd}`;
  const started = Date.now();
  const output = (): RunOutput => ({
    stdout: stdout.text(),
    stderr: stderr.text(),
    truncated: stdout.truncated || stderr.truncated,
  });
  let cancelled = false;
  let handle: CommandHandle | undefined;
  try {
    // In the background only to learn the pid (for cancel); it is the same single Start stream.
    handle = await sandbox.commands.run(cmd, {
      background: true,
      envs,
      timeoutMs: opts.timeoutMs,
      // Live listeners get what is kept, so a stream is bounded like the result.
      onStdout: (data) => {
        const kept = stdout.push(data);
        if (kept) opts.onStdout?.(kept);
      },
      onStderr: (data) => {
        const kept = stderr.push(data);
        if (kept) opts.onStderr?.(kept);
      },
    });
    const started = handle;
    opts.onStarted?.(async () => {
      cancelled = true;
      await started.kill();
    });
    const result = await handle.wait();
    return { kind: "exited", exitCode: result.exitCode, ...output() };
  } catch (error) {
    const reachedDeadline = Date.now() - started >= opts.timeoutMs - 50;
    if (error instanceof CommandExitError) {
      if (cancelled && error.exitCode < 0) return { kind: "cancelled", ...output() };
      if (reachedDeadline && error.exitCode < 0) return { kind: "timed_out", ...output() };
      return { kind: "exited", exitCode: error.exitCode, ...output() };
    }
    if (reachedDeadline && error instanceof TimeoutError) {
      // The SDK gave up waiting; make sure the process does not outlive its deadline either.
      await handle?.kill().catch(() => {});
      return { kind: "timed_out", ...output() };
    }
    return { kind: "sandbox_lost", error, ...output() };
  }
}
