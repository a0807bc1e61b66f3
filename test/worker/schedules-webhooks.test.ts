// Schedules and webhooks together, against the real queue and the verifying receiver on 127.0.0.1:
// a scheduled run sends execution.completed naming its schedule; schedule.disabled and
// schedule.run_skipped reach the user's endpoint, signed.
import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { userSpace } from "../../src/durable/stub.ts";
import { call, createUser } from "./helpers.ts";
import { create, fire, getSchedule, runsOf, type User, eventually as until, YEARLY } from "./schedule-helpers.ts";
import { eventually, type Received, subscribedHook } from "./webhook-helpers.ts";

/** The receiver's requests of one event type, once there are `n` of them. */
function typed(hook: { received: () => Promise<Received[]> }, type: string, n = 1): Promise<Received[]> {
  return eventually(async () => {
    const got = (await hook.received()).filter((r) => (r.payload as { type: string }).type === type);
    return got.length >= n ? got : undefined;
  }, `${n} ${type} webhook(s)`);
}

describe("schedules and webhooks", () => {
  let user: User;
  beforeAll(async () => {
    user = await createUser("sched-hooks");
  });

  it("an `at` schedule's run fires one signed execution.completed naming the schedule", async () => {
    const { hook } = await subscribedHook(user.apiKey, { events: ["execution.completed"] });
    const at = new Date(Date.now() + 2_000).toISOString();
    const made = await create(user, { at, language: "shell", code: "echo by schedule" });
    const [got] = await typed(hook, "execution.completed");
    expect(got!.verified, got!.error).toBe(true);
    const [run] = await runsOf(user, made.id);
    expect((got!.payload as { data: unknown }).data).toMatchObject({
      id: run.id,
      status: "succeeded",
      trigger: "schedule",
      scheduleId: made.id,
      stdout: "by schedule\n",
    });
    // Once, not once per alarm.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(
      (await hook.received()).filter((r) => (r.payload as { type: string }).type === "execution.completed"),
    ).toHaveLength(1);
  });

  it("sends schedule.run_skipped and schedule.disabled to the user's endpoint", async () => {
    const { hook } = await subscribedHook(user.apiKey, { events: ["schedule.run_skipped", "schedule.disabled"] });
    const gate = "/tmp/hook-gate";
    const slow = await create(user, {
      cron: YEARLY,
      language: "shell",
      conversationId: "hooks",
      code: `touch ${gate}.started; while [ ! -f ${gate}.go ]; do sleep 0.05; done; exit 1`,
      timeoutMs: 30_000,
    });
    const fileOf = (path: string) => `/api/v1/sandboxes/hooks/file?path=${encodeURIComponent(path)}`;
    await fire(user, slow.id);
    await until(async () => (await call(fileOf(`${gate}.started`), { key: user.apiKey })).status === 200, "started");
    await fire(user, slow.id);
    const [skipped] = await typed(hook, "schedule.run_skipped");
    expect(skipped!.verified, skipped!.error).toBe(true);
    expect((skipped!.payload as { data: unknown }).data).toMatchObject({
      scheduleId: slow.id,
      reason: "previous_run_still_running",
    });
    await call(fileOf(`${gate}.go`), { key: user.apiKey, method: "PUT", body: "go" });
    await until(async () => (await getSchedule(user, slow.id)).lastRun?.status === "failed", "the run failed");

    // Two failures in a row are the limit here (SCHEDULE_FAILURE_LIMIT is 5 in wrangler.toml): the
    // next run (its gate already open) fails at once and disables the schedule.
    await runInDurableObject(userSpace(env, user.id), (instance) => {
      const parts = (instance as unknown as { schedules: { parts: { env: Env } } }).schedules.parts;
      parts.env = { ...parts.env, SCHEDULE_FAILURE_LIMIT: "2" };
    });
    await fire(user, slow.id);
    const [disabled] = await typed(hook, "schedule.disabled");
    expect(disabled!.verified, disabled!.error).toBe(true);
    expect((disabled!.payload as { data: unknown }).data).toMatchObject({
      scheduleId: slow.id,
      consecutiveFailures: 2,
      lastStatus: "failed",
    });
    expect((await getSchedule(user, slow.id)).enabled).toBe(false);
  });
});
