// Numeric limits read from wrangler vars, with DESIGN's defaults when a var is unset or malformed.
export interface Limits {
  executionTimeoutMs: number;
  outputLimitBytes: number;
  maxConcurrentExecutions: number;
  sandboxIdleTimeoutMs: number;
  volumeQuotaBytes: number;
  volumeRetentionDays: number;
  historyRetentionDays: number;
}

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
    sandboxIdleTimeoutMs: int(env.SANDBOX_IDLE_TIMEOUT_MS, 600_000),
    volumeQuotaBytes: int(env.VOLUME_QUOTA_BYTES, 104_857_600),
    volumeRetentionDays: int(env.VOLUME_RETENTION_DAYS, 30),
    historyRetentionDays: int(env.HISTORY_RETENTION_DAYS, 90),
  };
}
