// Schedules through the Worker: the user's Durable Object alarm fires them (for real for `at`; by
// runDurableObjectAlarm after moving a stored due time into the past where waiting a minute would
// be needed), each run is an execution in history with trigger "schedule", and the limits hold.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { userSpace } from "../../src/durable/stub.ts";
import type { Schedule } from "../../src/schedules/types.ts";
import { call, createUser, type ErrorBody } from "./helpers.ts";
import { create, eventually, fire, getSchedule, runsOf, type User, YEARLY } from "./schedule-helpers.ts";

describe("schedules", () => {
  let alice: User;
  let bob: User;
  beforeAll(async () => {
    alice = await createUser("sched-a");
    bob = await createUser("sched-b");
  });

  it("runs an `at` schedule two seconds ahead exactly once, in history with trigger schedule", async () => {
    const at = new Date(Date.now() + 2_000).toISOString();
    const made = await create(alice, {
      name: "soon",
      at,
      language: "shell",
      code: "echo scheduled",
      conversationId: "at",
    });
    expect(made).toMatchObject({ name: "soon", at, cron: null, enabled: true, nextRunAt: at, lastRun: null });
    expect(made.id).toMatch(/^sch_/);
    // Nothing but the object's own alarm runs it.
    await eventually(async () => (await getSchedule(alice, made.id)).lastRun?.status === "succeeded", "it ran");
    const after = await getSchedule(alice, made.id);
    expect(after.nextRunAt).toBeNull();
    expect(Date.parse(after.lastRun!.at)).toBeGreaterThanOrEqual(Date.parse(at));

    const runs = await runsOf(alice, made.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      id: after.lastRun!.executionId,
      trigger: "schedule",
      scheduleId: made.id,
      status: "succeeded",
      stdout: "scheduled\n",
      conversationId: "at",
    });
    const byTrigger = await (await call("/api/v1/executions?trigger=schedule", { key: alice.apiKey })).json<any>();
    expect(byTrigger.items.map((e: any) => e.id)).toContain(runs[0].id);
    const byApi = await (await call("/api/v1/executions?trigger=api", { key: alice.apiKey })).json<any>();
    expect(byApi.items.map((e: any) => e.id)).not.toContain(runs[0].id);

    // Its alarm ringing again does not run it again.
    await runDurableObjectAlarm(userSpace(env, alice.id));
    expect(await runsOf(alice, made.id)).toHaveLength(1);
  });

  it("does not run a disabled schedule", async () => {
    const at = new Date(Date.now() + 2_000).toISOString();
    const off = await create(alice, { at, enabled: false, language: "shell", code: "echo off" });
    expect(off).toMatchObject({ enabled: false, nextRunAt: null });
    const paused = await create(alice, { at, language: "shell", code: "echo paused" });
    const patched = await call(`/api/v1/schedules/${paused.id}`, {
      key: alice.apiKey,
      method: "PATCH",
      json: { enabled: false },
    });
    expect((await patched.json<Schedule>()).nextRunAt).toBeNull();
    // A witness due at the same time: once it has run, the other two had their chance.
    const witness = await create(alice, { at, language: "shell", code: "echo witness" });
    await eventually(async () => (await getSchedule(alice, witness.id)).lastRun !== null, "the witness ran");
    await runDurableObjectAlarm(userSpace(env, alice.id));
    for (const id of [off.id, paused.id]) {
      expect((await getSchedule(alice, id)).lastRun).toBeNull();
      expect(await runsOf(alice, id)).toHaveLength(0);
    }
  });

  it("keeps users apart: B never sees, changes or runs A's schedules", async () => {
    const mine = await create(alice, { cron: YEARLY, language: "shell", code: "echo mine" });
    const list = await (await call("/api/v1/schedules", { key: bob.apiKey })).json<{ items: Schedule[] }>();
    expect(list.items.map((s) => s.id)).not.toContain(mine.id);
    for (const [method, path, json] of [
      ["GET", `/api/v1/schedules/${mine.id}`, undefined],
      ["PATCH", `/api/v1/schedules/${mine.id}`, { code: "echo stolen" }],
      ["DELETE", `/api/v1/schedules/${mine.id}`, undefined],
      ["POST", `/api/v1/schedules/${mine.id}/run`, undefined],
    ] as const) {
      const res = await call(path, { key: bob.apiKey, method, ...(json ? { json } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect((await res.json<ErrorBody>()).error.code).toBe("not_found");
    }
    expect(await getSchedule(alice, mine.id)).toMatchObject({ code: "echo mine", lastRun: null });
    const unauthenticated = await call("/api/v1/schedules");
    expect(unauthenticated.status).toBe(401);
  });

  it("refuses bad input with a 400 naming the field", async () => {
    const base = { language: "shell", code: "echo x" };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ cron: "61 * * * *" }, /^cron: /],
      [{ cron: "* * * *" }, /^cron: must have 5 fields/],
      [{ cron: "*/10 * * * * *" }, /^cron: must have 5 fields/],
      [{ cron: "0 0 30 2 *" }, /^cron: never matches/],
      [{ cron: "0 9 * * *", timezone: "Mars/Olympus" }, /^timezone: unknown IANA time zone/],
      [{ cron: "0 9 * * *", at: new Date(Date.now() + 60_000).toISOString() }, /^cron: give exactly one/],
      [{}, /^cron: give exactly one/],
      [{ at: new Date(Date.now() - 1_000).toISOString() }, /^at: must be in the future/],
      [{ at: "2099-01-01T09:00:00" }, /^at: must be an ISO 8601 time/],
      [{ cron: YEARLY, timeoutMs: 10_000_000 }, /^timeoutMs: /],
      [{ cron: YEARLY, language: "cobol" }, /^language: /],
      [{ cron: YEARLY, stateful: true }, /^stateful: /],
      [{ cron: YEARLY, crn: "typo" }, /crn/],
    ];
    for (const [extra, message] of cases) {
      const res = await call("/api/v1/schedules", { key: alice.apiKey, json: { ...base, ...extra } });
      const body = await res.json<ErrorBody>();
      expect(res.status, JSON.stringify(extra)).toBe(400);
      expect(body.error.code).toBe("invalid_request");
      expect(body.error.message, JSON.stringify(extra)).toMatch(message);
    }
    const made = await create(alice, { ...base, cron: "0 9 * * 1-5", timezone: "Europe/Paris" });
    const patch = (json: Record<string, unknown>) =>
      call(`/api/v1/schedules/${made.id}`, { key: alice.apiKey, method: "PATCH", json });
    const badCron = await patch({ cron: "0 25 * * *" });
    expect(badCron.status).toBe(400);
    expect((await badCron.json<ErrorBody>()).error.message).toMatch(/^cron: /);
    const badZone = await patch({ timezone: "Europe/Nowhere" });
    expect(badZone.status).toBe(400);
    expect((await badZone.json<ErrorBody>()).error.message).toMatch(/^timezone: /);
    // The schedule is unchanged by refused patches.
    expect(await getSchedule(alice, made.id)).toMatchObject({ cron: "0 9 * * 1-5", timezone: "Europe/Paris" });
  });

  it("computes nextRunAt in the schedule's time zone and moves it on PATCH", async () => {
    const made = await create(alice, { cron: "30 6 * * *", timezone: "Asia/Kolkata", language: "shell", code: "true" });
    // 06:30 in Kolkata (UTC+05:30, no DST) is 01:00 UTC.
    expect(made.nextRunAt).toMatch(/T01:00:00\.000Z$/);
    expect(Date.parse(made.nextRunAt!)).toBeGreaterThan(Date.now());
    expect(Date.parse(made.nextRunAt!) - Date.now()).toBeLessThanOrEqual(24 * 3600_000);
    const res = await call(`/api/v1/schedules/${made.id}`, {
      key: alice.apiKey,
      method: "PATCH",
      json: { timezone: "UTC", name: "renamed" },
    });
    expect(res.status).toBe(200);
    const moved = await res.json<Schedule>();
    expect(moved).toMatchObject({ name: "renamed", timezone: "UTC", cron: "30 6 * * *" });
    expect(moved.nextRunAt).toMatch(/T06:30:00\.000Z$/);
    const listed = await (await call("/api/v1/schedules", { key: alice.apiKey })).json<{ items: Schedule[] }>();
    expect(listed.items.find((s) => s.id === made.id)).toMatchObject({ nextRunAt: moved.nextRunAt, lastRun: null });
  });

  it("runs now, answers with the execution, and at most once a minute", async () => {
    const made = await create(alice, { cron: YEARLY, language: "python", code: "print(6 * 7)" });
    const res = await call(`/api/v1/schedules/${made.id}/run`, { key: alice.apiKey, method: "POST" });
    expect(res.status).toBe(200);
    const result = await res.json<any>();
    expect(result).toMatchObject({ status: "succeeded", stdout: "42\n", trigger: "schedule", scheduleId: made.id });
    expect((await getSchedule(alice, made.id)).lastRun).toMatchObject({ executionId: result.id, status: "succeeded" });
    const again = await call(`/api/v1/schedules/${made.id}/run`, { key: alice.apiKey, method: "POST" });
    expect(again.status).toBe(429);
    expect(Number(again.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect((await again.json<ErrorBody>()).error.code).toBe("rate_limited");
    // A slot falling within that minute waits for the minute to end rather than run twice in it.
    const stub = userSpace(env, alice.id);
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec(`UPDATE schedules SET next_run_at = ? WHERE id = ?`, Date.now() - 1, made.id);
      return state.storage.setAlarm(Date.now());
    });
    await runDurableObjectAlarm(stub);
    const deferred = await getSchedule(alice, made.id);
    expect(Date.parse(deferred.nextRunAt!)).toBe(Date.parse(deferred.lastRun!.at) + 60_000);
    expect(await runsOf(alice, made.id)).toHaveLength(1);
  });

  it("after downtime runs a schedule once, not once per missed slot", async () => {
    const made = await create(alice, { cron: "*/5 * * * *", language: "shell", code: "echo caught up" });
    const stub = userSpace(env, alice.id);
    // As if the object had slept through an hour of slots.
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec(`UPDATE schedules SET next_run_at = ? WHERE id = ?`, Date.now() - 3600_000, made.id);
      return state.storage.setAlarm(Date.now());
    });
    await runDurableObjectAlarm(stub);
    await eventually(async () => (await getSchedule(alice, made.id)).lastRun !== null, "it ran");
    await runDurableObjectAlarm(stub);
    expect(await runsOf(alice, made.id)).toHaveLength(1);
    const next = Date.parse((await getSchedule(alice, made.id)).nextRunAt!);
    expect(next).toBeGreaterThan(Date.now());
    expect(next - Date.now()).toBeLessThanOrEqual(5 * 60_000);
  });

  it("skips a run while the previous one still runs, and records it", async () => {
    const gate = "/tmp/sched-gate";
    const made = await create(alice, {
      cron: YEARLY,
      language: "shell",
      conversationId: "gated",
      code: `touch ${gate}.started; while [ ! -f ${gate}.go ]; do sleep 0.05; done; echo released`,
      timeoutMs: 30_000,
    });
    const fileOf = (path: string) => `/api/v1/sandboxes/gated/file?path=${encodeURIComponent(path)}`;
    await fire(alice, made.id);
    await eventually(
      async () => (await call(fileOf(`${gate}.started`), { key: alice.apiKey })).status === 200,
      "the first run started",
    );
    const running = (await getSchedule(alice, made.id)).running;
    expect(running).not.toBeNull();

    await fire(alice, made.id);
    const skipped = await getSchedule(alice, made.id);
    expect(skipped.events[0]).toMatchObject({
      type: "schedule.run_skipped",
      data: { scheduleId: made.id, reason: "previous_run_still_running", runningExecutionId: running!.executionId },
    });
    expect(Date.parse(skipped.nextRunAt!)).toBeGreaterThan(Date.now());
    const now = await call(`/api/v1/schedules/${made.id}/run`, { key: alice.apiKey, method: "POST" });
    expect(now.status).toBe(409);

    const release = await call(fileOf(`${gate}.go`), { key: alice.apiKey, method: "PUT", body: "go" });
    expect(release.status).toBe(200);
    await eventually(async () => (await getSchedule(alice, made.id)).lastRun?.status === "succeeded", "it finished");
    const runs = await runsOf(alice, made.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ id: running!.executionId, stdout: "released\n" });
  });

  it("disables a schedule after N consecutive failures and says so", async () => {
    const made = await create(alice, { cron: YEARLY, language: "shell", code: "echo nope >&2; exit 3" });
    const stub = userSpace(env, alice.id);
    // SCHEDULE_FAILURE_LIMIT is 5 in wrangler.toml; two runs show the same rule.
    await runInDurableObject(stub, (instance) => {
      const parts = (instance as unknown as { schedules: { parts: { env: Env } } }).schedules.parts;
      parts.env = { ...parts.env, SCHEDULE_FAILURE_LIMIT: "2" };
    });
    await fire(alice, made.id);
    await eventually(async () => (await getSchedule(alice, made.id)).lastRun?.status === "failed", "the first failure");
    expect(await getSchedule(alice, made.id)).toMatchObject({ enabled: true, consecutiveFailures: 1, events: [] });

    await fire(alice, made.id);
    await eventually(async () => (await getSchedule(alice, made.id)).consecutiveFailures === 2, "the second failure");
    const disabled = await getSchedule(alice, made.id);
    expect(disabled).toMatchObject({ enabled: false, nextRunAt: null });
    expect(disabled.disabledReason).toMatch(/2 consecutive failed runs/);
    expect(disabled.events[0]).toMatchObject({
      type: "schedule.disabled",
      data: { scheduleId: made.id, consecutiveFailures: 2, lastStatus: "failed" },
    });
    const runs = await runsOf(alice, made.id);
    expect(runs.map((r) => r.status)).toEqual(["failed", "failed"]);

    // Disabled, it no longer fires.
    await fire(alice, made.id);
    expect(await runsOf(alice, made.id)).toHaveLength(2);

    const reenabled = await call(`/api/v1/schedules/${made.id}`, {
      key: alice.apiKey,
      method: "PATCH",
      json: { enabled: true, code: "echo fixed" },
    });
    expect(await reenabled.json<Schedule>()).toMatchObject({
      enabled: true,
      consecutiveFailures: 0,
      disabledReason: null,
      code: "echo fixed",
    });
  });

  it("limits the schedules per user and frees a place on delete", async () => {
    const user = await createUser("sched-many");
    const max = Number(env.MAX_SCHEDULES_PER_USER);
    const ids: string[] = [];
    for (let i = 0; i < max; i++)
      ids.push((await create(user, { cron: YEARLY, language: "shell", code: `echo ${i}` })).id);
    const over = await call("/api/v1/schedules", {
      key: user.apiKey,
      json: { cron: YEARLY, language: "shell", code: "echo one too many" },
    });
    expect(over.status).toBe(409);
    expect((await over.json<ErrorBody>()).error.message).toContain(`At most ${max} schedules`);
    const gone = await call(`/api/v1/schedules/${ids[0]}`, { key: user.apiKey, method: "DELETE" });
    expect(gone.status).toBe(204);
    expect((await call(`/api/v1/schedules/${ids[0]}`, { key: user.apiKey })).status).toBe(404);
    await create(user, { cron: YEARLY, language: "shell", code: "echo fits again" });
  });
});
