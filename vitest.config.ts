// One vitest run, four projects: pure modules in Node (the fast `unit` lane: no server, no bubblewrap),
// the Worker in workerd, e2b-local in Node, the page in Chromium.
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig, type Plugin } from "vitest/config";

// `e2b-local` is a workspace package (e2b-local/package.json): here it resolves to its TypeScript sources,
// never to a packed build. Its `exports` name them under the `e2b-local-source` condition, which every Vite
// environment of the projects that start it (test files and global setups alike) resolves with.
const e2bLocalSource: Plugin = {
  name: "e2b-local-source",
  // merged into each environment's own conditions (Vite appends to arrays)
  configEnvironment: () => ({ resolve: { conditions: ["e2b-local-source"] } }),
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          environment: "node",
          include: ["test/unit/**/*.test.ts"],
        },
      },
      {
        plugins: [
          e2bLocalSource,
          cloudflareTest(async ({ inject }) => {
            const e2bLocalUrl = inject<string>("e2bLocalUrl");
            return {
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  TEST_MIGRATIONS: await readD1Migrations("migrations"),
                  OWNER_TOKEN: "test-owner-token",
                  CORS_ALLOWED_ORIGINS: "https://app.example, https://tools.example/",
                  // Small, so a test can fill the queue in front of the execution slots.
                  MAX_QUEUED_EXECUTIONS: "3",
                  E2B_API_KEY: inject<string>("e2bLocalApiKey"),
                  E2B_API_URL: e2bLocalUrl,
                  E2B_SANDBOX_URL: e2bLocalUrl,
                  // Webhooks to the test receiver on 127.0.0.1, retried after 1 s instead of 30 s.
                  WEBHOOK_ALLOW_LOCAL_HTTP: "true",
                  WEBHOOK_RETRY_BASE_SECONDS: "1",
                  WEBHOOK_SECRETS_KEY: "test-webhook-secrets-key",
                  WEBHOOK_RECEIVER_URL: inject<string>("webhookReceiverUrl"),
                  // Short, so test/worker/terminal.test.ts can see an idle terminal closed.
                  TERMINAL_IDLE_SECONDS: "5",
                },
              },
            };
          }),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          setupFiles: ["test/worker/apply-migrations.ts"],
          globalSetup: ["test/setup/e2b-local.ts", "test/setup/webhook-receiver.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [e2bLocalSource],
        test: {
          name: "e2b-local",
          environment: "node",
          include: ["test/e2b-local/**/*.test.ts"],
          globalSetup: ["test/setup/e2b-local.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [e2bLocalSource],
        test: {
          name: "e2e",
          environment: "node",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["test/setup/stack.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
