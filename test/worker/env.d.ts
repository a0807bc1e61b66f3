// Bindings only the test pool adds (see vitest.config.ts).
declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    /** The control API of the test webhook receiver (test/setup/webhook-receiver.ts). */
    WEBHOOK_RECEIVER_URL: string;
  }
}
