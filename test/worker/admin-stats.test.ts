// The owner's usage view, computed from D1 history.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, createUser, OWNER_TOKEN } from "./helpers.ts";

function historyRow(userId: string, i: number, language: string, status: string, durationMs: number) {
  return env.DB.prepare(
    `INSERT INTO executions (id, user_id, conversation_id, language, code, status, duration_ms, created_at)
     VALUES (?, ?, 'default', ?, 'x', ?, ?, ?)`,
  ).bind(`exe_admin${userId.slice(-8)}${String(i).padStart(3, "0")}`, userId, language, status, durationMs, Date.now());
}

describe("GET /api/v1/admin/stats", () => {
  it("reports per-user and per-language counts, error rates and duration percentiles", async () => {
    const u = await createUser("measured");
    // Durations 1..20 ms: p50 is the 10th smallest, p95 the 19th. Every 4th run failed.
    await env.DB.batch(
      Array.from({ length: 20 }, (_, i) =>
        historyRow(u.id, i, i < 10 ? "python" : "node", i % 4 === 3 ? "failed" : "succeeded", i + 1),
      ),
    );
    const res = await call("/api/v1/admin/stats", { key: OWNER_TOKEN });
    expect(res.status).toBe(200);
    const stats = await res.json<any>();
    const mine = stats.perUser.find((x: any) => x.userId === u.id);
    expect(mine).toEqual({
      userId: u.id,
      name: "measured",
      executions: 20,
      errorRate: 25,
      averageDurationMs: 11,
      p50DurationMs: 10,
      p95DurationMs: 19,
    });
    expect(stats.totals.executions).toBeGreaterThanOrEqual(20);
    expect(stats.totals.p95DurationMs).toBeGreaterThanOrEqual(stats.totals.p50DurationMs);
    expect(stats.perLanguage.python.executions).toBeGreaterThanOrEqual(10);
  });

  it("is for the owner only", async () => {
    const u = await createUser("curious");
    const res = await call("/api/v1/admin/stats", { key: u.apiKey });
    expect(res.status).toBe(403);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("forbidden");
    expect((await call("/api/v1/admin/stats", { key: "not-a-token" })).status).toBe(401);
  });
});
