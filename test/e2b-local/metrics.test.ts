// getMetrics through the unmodified SDK: CPU, memory and disk samples measured from the sandbox's own
// processes and disk, taken periodically, filtered by a time range.
import { describe, expect, it } from "vitest";
import { waitFor, withSandbox } from "./helpers.ts";

const MiB = 1024 * 1024;

describe("metrics", () => {
  it("samples CPU, memory and disk of the sandbox's processes over time", async () => {
    await withSandbox(async (sb) => {
      const t0 = new Date();
      // load (a busy loop gets what the loaded test machine leaves it: only "clearly above idle" is
      // asserted): 120 MiB held by a process, a CPU-bound loop, 40 MiB written to its disk
      await sb.commands.run(
        "python3 -c 'import time; b = bytearray(120 * 1024 * 1024); b[::4096] = b\"x\" * len(b[::4096]); time.sleep(30)' >/dev/null 2>&1 &",
      );
      await sb.commands.run("timeout 30 sh -c 'while :; do :; done' >/dev/null 2>&1 &");
      await sb.commands.run("head -c 41943040 /dev/urandom > /home/user/blob && sync");
      const samples = await waitFor(async () => {
        const m = await sb.getMetrics();
        const busy = m.filter((s) => s.timestamp >= t0 && s.cpuUsedPct > 5 && s.memUsed > 100 * MiB);
        return busy.length && m.some((s) => s.diskUsed > 40 * MiB) ? m : null;
      }, 500);
      const last = samples[samples.length - 1]!;
      expect(last.cpuCount).toBeGreaterThanOrEqual(1);
      expect(last.memTotal).toBe(512 * MiB);
      expect(last.diskTotal).toBeGreaterThan(900 * MiB);
      expect(last.diskTotal).toBeLessThanOrEqual(1024 * MiB);
      for (const s of samples) {
        expect(s.cpuUsedPct).toBeGreaterThanOrEqual(0);
        expect(s.cpuUsedPct).toBeLessThanOrEqual(100);
        expect(s.timestamp).toBeInstanceOf(Date);
      }
      // sampled periodically: timestamps increase
      for (let i = 1; i < samples.length; i++)
        expect(samples[i]!.timestamp.getTime()).toBeGreaterThan(samples[i - 1]!.timestamp.getTime());
      // a time range selects the samples within it
      const mid = samples[Math.floor(samples.length / 2)]!.timestamp;
      const from = await sb.getMetrics({ start: mid });
      expect(from.length).toBeGreaterThan(0);
      for (const s of from)
        expect(Math.floor(s.timestamp.getTime() / 1000)).toBeGreaterThanOrEqual(Math.round(mid.getTime() / 1000));
      const before = await sb.getMetrics({ end: new Date(t0.getTime() - 3_600_000) });
      expect(before).toEqual([]);
      // when the load is gone, memory falls back
      await sb.commands.run("pkill -x python3 || true");
      const freed = new Date();
      await waitFor(async () => (await sb.getMetrics({ start: freed })).some((s) => s.memUsed < 100 * MiB), 500);
    });
  });
});
