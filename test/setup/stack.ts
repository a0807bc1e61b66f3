// vitest globalSetup for the browser tests: the whole local stack on free ports, with fresh state and a
// small volume quota (so a test can fill it for real). Each test makes its own user through the owner API.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalStack } from "../../scripts/local-stack.ts";

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
    ownerToken: string;
    volumeQuotaBytes: number;
  }
}

type Provide = <K extends "baseUrl" | "ownerToken" | "volumeQuotaBytes">(
  key: K,
  value: import("vitest").ProvidedContext[K],
) => void;

/** 1 MiB: room for every test's files, and filled by one upload in the quota test. */
const VOLUME_QUOTA_BYTES = 1024 * 1024;

export default async function ({ provide }: { provide: Provide }) {
  const persistTo = await mkdtemp(join(tmpdir(), "phoenix-e2e-"));
  // One waiting run per user at most, so a browser test can fill the queue and see the page's 429.
  const stack = await startLocalStack({
    persistTo,
    vars: { VOLUME_QUOTA_BYTES: String(VOLUME_QUOTA_BYTES), MAX_QUEUED_EXECUTIONS: "1" },
  });
  provide("baseUrl", stack.url);
  provide("ownerToken", stack.ownerToken);
  provide("volumeQuotaBytes", VOLUME_QUOTA_BYTES);
  return async () => {
    await stack.stop();
    await rm(persistTo, { recursive: true, force: true });
  };
}
