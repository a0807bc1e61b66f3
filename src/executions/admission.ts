// The checks every way of starting a run shares (POST /api/v1/executions, MCP's run_code, schedules):
// code size, stateful shell, the timeout ceiling — one place, so the errors read the same everywhere.
import { limits, MAX_CODE_BYTES } from "../config.ts";
import { ApiError } from "../errors.ts";
import { utf8Length } from "../text.ts";
import type { Language } from "./types.ts";

/** Refuses what no run may be; answers the run's timeout (its own, or EXECUTION_TIMEOUT_MS). */
export function admitRun(
  env: Env,
  run: { code: string; language: Language; stateful?: boolean | undefined; timeoutMs?: number | null | undefined },
): number {
  if (utf8Length(run.code) > MAX_CODE_BYTES) {
    throw new ApiError("payload_too_large", `code: must be at most ${MAX_CODE_BYTES} bytes`);
  }
  if (run.stateful && run.language === "shell") {
    throw new ApiError(
      "invalid_request",
      "stateful: only python and node keep state between runs; run shell code without stateful",
    );
  }
  const ceiling = limits(env).executionTimeoutMs;
  const timeoutMs = run.timeoutMs ?? ceiling;
  if (timeoutMs > ceiling) throw new ApiError("invalid_request", `timeoutMs: must be at most ${ceiling}`);
  return timeoutMs;
}
