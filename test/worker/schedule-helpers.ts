// Makes and reads schedules through the API, and fires one through its user's Durable Object alarm.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { expect } from "vitest";
import { userSpace } from "../../src/durable/stub.ts";
import type { Schedule } from "../../src/schedules/types.ts";
import { call } from "./helpers.ts";

export type User = { id: string; apiKey: string };

/** A cron slot far away (1 January, 00:00): nothing fires during a test unless the test moves it. */
export const YEARLY = "0 0 1 1 *";

export async function create(user: User, body: Record<string, unknown>): Promise<Schedule> {
  const res = await call("/api/v1/schedules", { key: user.apiKey, json: body });
  if (res.status !== 201) throw new Error(`creating a schedule: ${res.status} ${await res.text()}`);
  return res.json();
}

export async function getSchedule(user: User, id: string): Promise<Schedule> {
  const res = await call(`/api/v1/schedules/${id}`, { key: user.apiKey });
  expect(res.status).toBe(200);
  return res.json();
}

export async function runsOf(user: User, scheduleId: string): Promise<any[]> {
  const res = await call(`/api/v1/executions?scheduleId=${scheduleId}&limit=100`, { key: user.apiKey });
  expect(res.status).toBe(200);
  return (await res.json<{ items: any[] }>()).items;
}

/** Polls (bounded, about 30 s: the machine is shared) until `check` holds. */
export async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting until ${what}`);
}

/**
 * Makes a schedule due now, as if its time had come (and the previous run were over a minute old),
 * then rings the user's alarm. Waiting for a real minute would make the test slow, not truer.
 */
export async function fire(user: User, scheduleId: string): Promise<void> {
  const stub = userSpace(env, user.id);
  await runInDurableObject(stub, (_instance, state) => {
    const now = Date.now();
    state.storage.sql.exec(
      `UPDATE schedules SET next_run_at = ?,
         last_run = CASE WHEN last_run IS NULL THEN NULL ELSE json_set(last_run, '$.at', ?) END WHERE id = ?`,
      now - 1,
      new Date(now - 61_000).toISOString(),
      scheduleId,
    );
    return state.storage.setAlarm(now);
  });
  await runDurableObjectAlarm(stub);
}
