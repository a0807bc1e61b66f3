// Sends a schedule's events (schedule.run_skipped, schedule.disabled) to the user's webhooks. Each is
// also kept on the schedule itself (its `events`), so it is visible with or without a webhook.
import { emitEvent, type WebhookPresence } from "../webhooks/events.ts";
import type { ScheduleEventType } from "./types.ts";

/** Hands the event to the webhooks (stored in D1 before any attempt, see webhooks/events.ts). */
export function emitScheduleEvent(
  env: Env,
  userId: string,
  type: ScheduleEventType,
  data: Record<string, unknown>,
  presence?: WebhookPresence,
): Promise<void> {
  return emitEvent(env, userId, type, data, presence);
}
