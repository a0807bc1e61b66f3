// Webhooks end to end: real executions, the real queue (Miniflare), a real receiver on 127.0.0.1
// that verifies every signature with the `standardwebhooks` package.
import { describe, expect, it } from "vitest";
import { createUser, execute } from "./helpers.ts";
import { eventually, subscribedHook } from "./webhook-helpers.ts";

describe("webhooks", () => {
  it("an execution produces one signed execution.completed", async () => {
    const { apiKey } = await createUser("hooked");
    const { hook } = await subscribedHook(apiKey);
    const { res, json: result } = await execute(apiKey, {
      language: "shell",
      code: "echo hello; echo oops >&2; exit 3",
    });
    expect(res.status).toBe(200);
    const [got] = await eventually(async () => {
      const r = await hook.received();
      return r.length > 0 ? r : undefined;
    }, "the webhook");
    expect(got!.verified, got!.error).toBe(true);
    expect(got!.payload).toMatchObject({
      type: "execution.completed",
      data: {
        id: result.id,
        status: "failed",
        exitCode: 3,
        language: "shell",
        conversationId: "default",
        stdout: "hello\n",
        stderr: "oops\n",
        url: `/api/v1/executions/${result.id}`,
      },
    });
    expect(got!.webhookId).toMatch(/^msg_/);
    // Exactly one: nothing else arrives.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await hook.received()).toHaveLength(1);
  });
});
