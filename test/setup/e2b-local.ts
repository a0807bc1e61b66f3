// vitest globalSetup shared by the `worker` and `e2b-local` projects: one e2b-local on an ephemeral
// port with a fresh data dir; its URL and API key are provided to the tests.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startE2bLocal } from "e2b-local";

declare module "vitest" {
  export interface ProvidedContext {
    e2bLocalUrl: string;
    e2bLocalApiKey: string;
  }
}

type Provide = <K extends "e2bLocalUrl" | "e2bLocalApiKey">(key: K, value: string) => void;

export default async function ({ provide }: { provide: Provide }) {
  const dataDir = await mkdtemp(join(tmpdir(), "e2b-local-test-"));
  const server = await startE2bLocal({ port: 0, dataDir });
  provide("e2bLocalUrl", server.url);
  provide("e2bLocalApiKey", server.apiKey);
  return async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  };
}
