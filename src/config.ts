// Numeric limits read from wrangler vars, with DESIGN's defaults when a var is unset or malformed.
export interface Limits {
  executionTimeoutMs: number;
  outputLimitBytes: number;
  maxConcurrentExecutions: number;
  /** Live sandboxes per user; opening one more closes the least recently used idle one. */
  maxSandboxesPerUser: number;
  /** Longest a package install may run (and its default `timeoutMs`); never above MAX_INSTALL_TIMEOUT_MS. */
  installTimeoutMs: number;
  sandboxIdleTimeoutMs: number;
  volumeQuotaBytes: number;
  volumeRetentionDays: number;
  historyRetentionDays: number;
  /** Runs that may wait for a slot at once (`Prefer: wait`); beyond, 429 at once. */
  maxQueuedExecutions: number;
  /** How long a run waits for a slot when its request does not say (`Prefer: wait=<s>`). */
  queueWaitMs: number;
  /** Schedules one user may keep. */
  maxSchedulesPerUser: number;
  /** A schedule whose runs fail this many times in a row is disabled (0: never). */
  scheduleFailureLimit: number;
  /** A web terminal without input this long is closed and its shell killed (0: never). */
  terminalIdleMs: number;
}

/** The longest wait a request may ask for (`Prefer: wait=<s>`), in seconds. */
export const MAX_QUEUE_WAIT_SECONDS = 300;

/** The hard ceiling on INSTALL_TIMEOUT_MS: an install holds a concurrency slot all that time. */
export const MAX_INSTALL_TIMEOUT_MS = 600_000;

/** Code sent for one execution, in UTF-8 bytes. */
export const MAX_CODE_BYTES = 256 * 1024;

function int(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== "" && Number.isInteger(n) && n >= 0 ? n : fallback;
}

export function limits(env: Env): Limits {
  return {
    executionTimeoutMs: int(env.EXECUTION_TIMEOUT_MS, 60_000),
    outputLimitBytes: int(env.OUTPUT_LIMIT_BYTES, 1_048_576),
    maxConcurrentExecutions: int(env.MAX_CONCURRENT_EXECUTIONS, 4),
    // At least one, or no conversation could ever run.
    maxSandboxesPerUser: Math.max(1, int(env.MAX_SANDBOXES_PER_USER, 5)),
    installTimeoutMs: Math.min(int(env.INSTALL_TIMEOUT_MS, 120_000), MAX_INSTALL_TIMEOUT_MS),
    sandboxIdleTimeoutMs: int(env.SANDBOX_IDLE_TIMEOUT_MS, 600_000),
    volumeQuotaBytes: int(env.VOLUME_QUOTA_BYTES, 104_857_600),
    volumeRetentionDays: int(env.VOLUME_RETENTION_DAYS, 30),
    historyRetentionDays: int(env.HISTORY_RETENTION_DAYS, 90),
    maxQueuedExecutions: int(env.MAX_QUEUED_EXECUTIONS, 20),
    queueWaitMs: Math.min(int(env.QUEUE_WAIT_SECONDS, 0), MAX_QUEUE_WAIT_SECONDS) * 1000,
    maxSchedulesPerUser: int(env.MAX_SCHEDULES_PER_USER, 20),
    scheduleFailureLimit: int(env.SCHEDULE_FAILURE_LIMIT, 5),
    terminalIdleMs: int(env.TERMINAL_IDLE_SECONDS, 900) * 1000,
  };
}
