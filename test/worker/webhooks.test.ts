// Webhooks end to end: real executions, the real queue (Miniflare), a real receiver on 127.0.0.1
// that verifies every signature with the `standardwebhooks` package. Retries are 1 s apart here
// (WEBHOOK_RETRY_BASE_SECONDS in vitest.config.ts), through the same backoff code as in production.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sweepDeliveries } from "../../src/webhooks/delivery.ts";
import { call, createUser, execute } from "./helpers.ts";
import { eventually, type Received, subscribedHook } from "./webhook-helpers.ts";

interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  status: string;
  attemptCount: number;
  nextRetryAt: string | null;
  attempts: { attempt: number; statusCode: number | null; error: string | null; durationMs: number }[];
}

async function deliveries(key: string, webhookId: string): Promise<Delivery[]> {
  const res = await call(`/api/v1/webhooks/${webhookId}/deliveries`, { key });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Delivery[] }).items;
}

/** Waits until the receiver has `n` requests. */
function receivedCount(hook: { received: () => Promise<Received[]> }, n: number): Promise<Received[]> {
  return eventually(async () => {
    const r = await hook.received();
    return r.length >= n ? r : undefined;
  }, `${n} webhook request(s)`);
}

describe("webhooks: delivery", () => {
  it("an execution produces one signed execution.completed", async () => {
    const { apiKey } = await createUser("hooked");
    const { hook } = await subscribedHook(apiKey);
    const { res, json: result } = await execute(apiKey, {
      language: "shell",
      code: "echo hello; echo oops >&2; exit 3",
    });
    expect(res.status).toBe(200);
    const [got] = await receivedCount(hook, 1);
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
        outputTruncated: false,
        url: `/api/v1/executions/${result.id}`,
      },
    });
    expect(got!.webhookId).toMatch(/^msg_/);
    // Exactly one: a second run's event comes after it, and nothing else arrived before.
    await execute(apiKey, { language: "shell", code: "true" });
    const all = await receivedCount(hook, 2);
    expect(all).toHaveLength(2);
    expect((all[1]!.payload as { data: { status: string } }).data.status).toBe("succeeded");
  });

  it("a user's first webhook gets events even after runs made while they had none", async () => {
    const { apiKey } = await createUser("hooked-later");
    // Runs without a webhook: the user's object learns (from D1) that there is none and stops asking.
    for (let i = 0; i < 2; i++)
      expect((await execute(apiKey, { language: "shell", code: "true" })).res.status).toBe(200);
    // Creating one tells the object, so the next run's event is not skipped.
    const { hook } = await subscribedHook(apiKey);
    const { json: result } = await execute(apiKey, { language: "shell", code: "echo after" });
    const [got] = await receivedCount(hook, 1);
    expect(got!.payload).toMatchObject({ type: "execution.completed", data: { id: result.id, stdout: "after\n" } });
  });

  it("the event carries only the first bytes of long output, and never the envs or the code", async () => {
    const { apiKey } = await createUser("long output");
    const { hook } = await subscribedHook(apiKey);
    const { json: result } = await execute(apiKey, {
      language: "python",
      code: "import os\nprint('x' * 10000)\nprint(os.environ['TOKEN'])",
      envs: { TOKEN: "sekrit-env-value" },
    });
    expect(result.stdout.length).toBeGreaterThan(10000);
    const [got] = await receivedCount(hook, 1);
    const text = JSON.stringify(got!.payload);
    expect(text).not.toContain("sekrit-env-value");
    expect(text).not.toContain("os.environ");
    const data = (got!.payload as { data: { stdout: string; outputTruncated: boolean } }).data;
    expect(data.stdout.length).toBeLessThan(result.stdout.length);
    expect(data.outputTruncated).toBe(true);
  });

  it("a receiver answering 500 then 200 gets the same webhook-id twice; a retry sends it once more", async () => {
    const { apiKey } = await createUser("flaky receiver");
    const { hook, webhook } = await subscribedHook(apiKey, { statuses: [500, 200] });
    const test = await call(`/api/v1/webhooks/${webhook.id}/test`, { key: apiKey, method: "POST" });
    expect(test.status).toBe(202);
    const delivery = (await test.json()) as Delivery;
    expect(delivery).toMatchObject({ eventType: "webhook.test", status: "pending" });
    const [first, second] = await receivedCount(hook, 2);
    expect(first!.answered).toBe(500);
    expect(second!.answered).toBe(200);
    expect(first!.verified && second!.verified).toBe(true);
    expect(second!.webhookId).toBe(first!.webhookId);
    expect(first!.payload).toMatchObject({ type: "webhook.test", data: { webhookId: webhook.id } });
    const done = await eventually(async () => {
      const [d] = await deliveries(apiKey, webhook.id);
      return d?.status === "succeeded" ? d : undefined;
    }, "the delivery to succeed");
    expect(done.id).toBe(delivery.id);
    expect(done.eventId).toBe(first!.webhookId);
    expect(done.attemptCount).toBe(2);
    expect(done.nextRetryAt).toBeNull();
    expect(done.attempts.map((a) => [a.attempt, a.statusCode, a.error])).toEqual([
      [1, 500, null],
      [2, 200, null],
    ]);

    const retry = await call(`/api/v1/webhooks/${webhook.id}/deliveries/${delivery.id}/retry`, {
      key: apiKey,
      method: "POST",
    });
    expect(retry.status).toBe(202);
    const third = (await receivedCount(hook, 3))[2]!;
    expect(third.webhookId).toBe(first!.webhookId);
    expect(third.verified).toBe(true);
  });

  it("a receiver that is down for a while gets the event after it comes back", async () => {
    const { apiKey } = await createUser("receiver down");
    const { hook, webhook } = await subscribedHook(apiKey);
    await hook.down();
    await execute(apiKey, { language: "shell", code: "echo while you were out" });
    // Two attempts refused (connection errors), a retry scheduled…
    const failing = await eventually(async () => {
      const [d] = await deliveries(apiKey, webhook.id);
      return d && d.attemptCount >= 2 ? d : undefined;
    }, "two failed attempts");
    expect(failing.status).toBe("pending");
    expect(failing.nextRetryAt).not.toBeNull();
    expect(failing.attempts[0]!.statusCode).toBeNull();
    expect(failing.attempts[0]!.error).toMatch(/network error/);
    expect(await hook.received()).toHaveLength(0);
    // …then it is back, and the next retry delivers.
    await hook.up();
    const [got] = await receivedCount(hook, 1);
    expect(got!.verified).toBe(true);
    expect(got!.webhookId).toBe(failing.eventId);
    expect(got!.payload).toMatchObject({ data: { stdout: "while you were out\n" } });
    await eventually(async () => {
      const [d] = await deliveries(apiKey, webhook.id);
      return d?.status === "succeeded" ? d : undefined;
    }, "the delivery to succeed");
  });

  it("a delivery whose queue message was lost is sent again by the cron's sweep", async () => {
    const { apiKey } = await createUser("lost message");
    const { hook, webhook } = await subscribedHook(apiKey);
    await hook.down();
    await call(`/api/v1/webhooks/${webhook.id}/test`, { key: apiKey, method: "POST" });
    const failing = await eventually(async () => {
      const [d] = await deliveries(apiKey, webhook.id);
      return d && d.attemptCount >= 1 ? d : undefined;
    }, "a failed attempt");
    // The fault: the retry's queue message is lost (a queue refusing a send cannot be produced for
    // real here). Changing the lease makes that message stale; the row says the retry is long overdue.
    await env.DB.prepare("UPDATE webhook_deliveries SET lease = 'lost', next_attempt_at = ? WHERE id = ?")
      .bind(Date.now() - 3_600_000, failing.id)
      .run();
    await hook.up();
    await new Promise((r) => setTimeout(r, 2500));
    expect(await hook.received()).toHaveLength(0);
    expect(await sweepDeliveries(env, Date.now())).toBeGreaterThanOrEqual(1);
    const [got] = await receivedCount(hook, 1);
    expect(got!.verified).toBe(true);
    expect(got!.webhookId).toBe(failing.eventId);
  });

  it("an endpoint gets only the events it subscribed to; 410 Gone disables it", async () => {
    const { apiKey } = await createUser("picky");
    const picky = await subscribedHook(apiKey, { events: ["schedule.disabled"] });
    const gone = await subscribedHook(apiKey, { statuses: [410] });
    await execute(apiKey, { language: "shell", code: "true" });
    await receivedCount(gone.hook, 1);
    const disabled = await eventually(async () => {
      const body = (await (await call(`/api/v1/webhooks/${gone.webhook.id}`, { key: apiKey })).json()) as {
        disabledAt: string | null;
      };
      return body.disabledAt ? body : undefined;
    }, "the endpoint to be disabled");
    expect(disabled).toMatchObject({ disabledReason: expect.stringContaining("410") });
    const [d] = await deliveries(apiKey, gone.webhook.id);
    expect(d).toMatchObject({ status: "failed", attemptCount: 1 });
    // A second run goes to neither: one is disabled, the other never subscribed.
    await execute(apiKey, { language: "shell", code: "true" });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await gone.hook.received()).toHaveLength(1);
    expect(await picky.hook.received()).toHaveLength(0);
    expect(await deliveries(apiKey, picky.webhook.id)).toEqual([]);
  });
});

describe("webhooks: asynchronous runs", () => {
  it("Prefer: respond-async answers 202 at once, then the result by GET and by webhook", async () => {
    const { apiKey } = await createUser("async");
    const { hook } = await subscribedHook(apiKey);
    const conversationId = "async-gate";
    const res = await call("/api/v1/executions", {
      key: apiKey,
      headers: { Prefer: "respond-async" },
      json: {
        language: "shell",
        conversationId,
        code: "while [ ! -f /tmp/go ]; do sleep 0.05; done; echo finished",
        timeoutMs: 30_000,
      },
    });
    expect(res.status).toBe(202);
    expect(res.headers.get("Preference-Applied")).toBe("respond-async");
    const started = (await res.json()) as { id: string; status: string };
    expect(started).toMatchObject({ id: expect.stringMatching(/^exe_/), status: "running" });
    expect(res.headers.get("Location")).toBe(`/api/v1/executions/${started.id}`);

    const whileRunning = await call(`/api/v1/executions/${started.id}`, { key: apiKey });
    expect(whileRunning.status).toBe(200);
    expect(await whileRunning.json()).toMatchObject({ id: started.id, status: "running", conversationId });
    // Someone else asking is told nothing.
    const other = await createUser("other");
    expect((await call(`/api/v1/executions/${started.id}`, { key: other.apiKey })).status).toBe(404);

    const go = await call(`/api/v1/sandboxes/${conversationId}/file?path=/tmp/go`, {
      key: apiKey,
      method: "PUT",
      body: "go",
    });
    expect(go.status).toBe(200);
    const finished = await eventually(async () => {
      const body = (await (await call(`/api/v1/executions/${started.id}`, { key: apiKey })).json()) as {
        status: string;
        stdout: string;
      };
      return body.status !== "running" ? body : undefined;
    }, "the run to finish");
    expect(finished).toMatchObject({ status: "succeeded", stdout: "finished\n" });
    const [got] = await receivedCount(hook, 1);
    expect(got!.verified).toBe(true);
    expect(got!.payload).toMatchObject({ data: { id: started.id, status: "succeeded", stdout: "finished\n" } });
  });

  it("an asynchronous run refused before it starts is an error, not a 202", async () => {
    const { apiKey } = await createUser("async refused");
    const res = await call("/api/v1/executions", {
      key: apiKey,
      headers: { Prefer: "respond-async" },
      json: { language: "shell", code: "true", timeoutMs: 10_000_000 },
    });
    expect(res.status).toBe(400);
  });
});
