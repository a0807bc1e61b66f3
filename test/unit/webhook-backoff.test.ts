// The webhook retry schedule: doubling from the base, capped at an hour, jittered within its upper half.
import { describe, expect, it } from "vitest";
import { backoffSeconds } from "../../src/webhooks/delivery.ts";

describe("webhook backoff", () => {
  it("doubles per attempt from the base, between half and all of the step", () => {
    for (const [attempt, step] of [
      [1, 30],
      [2, 60],
      [3, 120],
      [5, 480],
    ] as const) {
      expect(backoffSeconds(attempt, 30, 0)).toBe(step / 2);
      expect(backoffSeconds(attempt, 30, 0.999_999)).toBe(step);
      const jittered = backoffSeconds(attempt, 30);
      expect(jittered).toBeGreaterThanOrEqual(step / 2);
      expect(jittered).toBeLessThanOrEqual(step);
    }
  });

  it("stops growing at an hour, and never waits less than a second", () => {
    expect(backoffSeconds(30, 30, 0.999_999)).toBe(3600);
    expect(backoffSeconds(1000, 30, 0)).toBe(1800);
    expect(backoffSeconds(1, 1, 0)).toBe(1);
  });

  it("spreads retries of the same attempt (jitter)", () => {
    const seen = new Set(Array.from({ length: 50 }, () => backoffSeconds(6, 30)));
    expect(seen.size).toBeGreaterThan(5);
  });

  it("keeps retrying for at least 24 hours: the schedule's attempts cover the window", () => {
    // Even with every delay at its longest, 24 h hold a bounded number of attempts; at its
    // shortest, the attempts keep coming after 24 h (the window, not a count, ends them).
    let elapsed = 0;
    let attempts = 0;
    while (elapsed < 24 * 3600) elapsed += backoffSeconds(++attempts, 30, 0.999_999);
    expect(attempts).toBeGreaterThan(20);
  });
});
