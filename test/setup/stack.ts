// vitest globalSetup for the browser tests: the whole local stack on free ports, with fresh state.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalStack } from "../../scripts/local-stack.ts";

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
    apiKey: string;
    ownerToken: string;
  }
}

type Provide = <K extends "baseUrl" | "apiKey" | "ownerToken">(key: K, value: string) => void;

export default async function ({ provide }: { provide: Provide }) {
  const persistTo = await mkdtemp(join(tmpdir(), "phoenix-e2e-"));
  const stack = await startLocalStack({ persistTo });
  const user = await stack.createUser("browser");
  provide("baseUrl", stack.url);
  provide("apiKey", user.apiKey);
  provide("ownerToken", stack.ownerToken);
  return async () => {
    await stack.stop();
    await rm(persistTo, { recursive: true, force: true });
  };
}
