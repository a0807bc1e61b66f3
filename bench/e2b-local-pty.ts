// Part of `npm run bench:e2b-local`: a PTY's keystroke → echo round trip (one character sent with
// pty.sendInput until the terminal's echo of it arrives through onData) and pause / resume times.
import { Sandbox } from "e2b";
import type { ConnectionOpts } from "e2b";
import { ms, percentile } from "./stats.ts";

export async function benchPtyAndPause(conn: ConnectionOpts, n: number): Promise<Record<string, string>[]> {
  const rows: Record<string, string>[] = [];
  const sb = await Sandbox.create(conn);
  try {
    let waiting: { char: string; resolve: () => void } | null = null;
    let ready!: () => void;
    const prompt = new Promise<void>((r) => (ready = r));
    const pty = await sb.pty.create({
      cols: 80,
      rows: 24,
      onData: (data) => {
        const text = Buffer.from(data).toString();
        if (text.includes("$ ")) ready();
        if (waiting && text.includes(waiting.char)) {
          const w = waiting;
          waiting = null;
          w.resolve();
        }
      },
    });
    await prompt;
    const typed: number[] = [];
    for (let i = 0; i < n + 5; i++) {
      const char = String.fromCharCode(97 + (i % 26));
      const echoed = new Promise<void>((resolve) => (waiting = { char, resolve }));
      const t0 = performance.now();
      await sb.pty.sendInput(pty.pid, new TextEncoder().encode(char));
      await echoed;
      if (i >= 5) typed.push(performance.now() - t0); // the first few warm up
      if (i % 40 === 39) await sb.pty.sendInput(pty.pid, new Uint8Array([0x15])); // ^U: keep the line short
    }
    await sb.pty.kill(pty.pid);
    rows.push({
      what: "PTY keystroke → echo (sendInput → onData)",
      n: String(typed.length),
      p50: ms(percentile(typed, 0.5)),
      p95: ms(percentile(typed, 0.95)),
    });
  } finally {
    await sb.kill();
  }

  const pauses: number[] = [];
  const resumes: number[] = [];
  for (let i = 0; i < Math.max(3, Math.floor(n / 10)); i++) {
    const box = await Sandbox.create(conn);
    try {
      await box.files.write("/home/user/kept.txt", "x");
      let t0 = performance.now();
      await box.pause();
      pauses.push(performance.now() - t0);
      t0 = performance.now();
      const again = await Sandbox.connect(box.sandboxId, conn);
      resumes.push(performance.now() - t0);
      if ((await again.files.read("/home/user/kept.txt")) !== "x") throw new Error("resume lost a file");
    } finally {
      await box.kill();
    }
  }
  rows.push(
    {
      what: "pause (filesystem only: processes end, disk kept)",
      n: String(pauses.length),
      p50: ms(percentile(pauses, 0.5)),
      p95: ms(percentile(pauses, 0.95)),
    },
    {
      what: "resume (Sandbox.connect: the box restarts on its disk)",
      n: String(resumes.length),
      p50: ms(percentile(resumes, 0.5)),
      p95: ms(percentile(resumes, 0.95)),
    },
  );
  return rows;
}
