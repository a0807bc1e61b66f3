// PTY through the unmodified SDK: a real terminal (tty, size, resize/SIGWINCH, envs, cwd), input,
// kill, and reconnecting to a running PTY by pid.
import { describe, expect, it } from "vitest";
import { marker, waitFor, withSandbox } from "./helpers.ts";

// Waits look for a command's output, never for text the terminal also echoes back as it is typed:
// `echo X-$((40+2))` is typed as that and prints `X-42`.
const text = (chunks: Uint8Array[]) => Buffer.concat(chunks.map((c) => Buffer.from(c))).toString();

describe("pty", () => {
  it("runs an interactive shell on a terminal of the given size, with envs and cwd", async () => {
    await withSandbox(async (sb) => {
      const out: Uint8Array[] = [];
      await sb.files.makeDir("/home/user/work");
      const pty = await sb.pty.create({
        cols: 93,
        rows: 31,
        envs: { MY_VAR: "from-envs" },
        cwd: "/home/user/work",
        onData: (d) => void out.push(d),
      });
      expect(pty.pid).toBeGreaterThan(0);
      const m = marker();
      await sb.pty.sendInput(
        pty.pid,
        new TextEncoder().encode(`tty; stty size; echo "$MY_VAR $PWD $TERM"; echo ${m}-$((6*7))\n`),
      );
      await waitFor(() => text(out).includes(`${m}-42`));
      const seen = text(out);
      expect(seen).toMatch(/\/dev\/pts\/\d+/);
      expect(seen).toContain("31 93");
      expect(seen).toContain("from-envs /home/user/work xterm-256color");
      // the command's own output went through the terminal: CRLF line endings
      expect(seen).toContain(`${m}-42\r\n`);
      // the PTY is listed among the processes
      expect((await sb.commands.list()).map((p) => p.pid)).toContain(pty.pid);
      expect(await sb.pty.kill(pty.pid)).toBe(true);
      const end = await pty.wait().catch((e) => e);
      expect(String(end?.error ?? end?.message)).toContain("signal: killed");
      expect(await sb.pty.kill(pty.pid)).toBe(false);
    });
  });

  it("resize changes the size the program sees and signals it (SIGWINCH)", async () => {
    await withSandbox(async (sb) => {
      const out: Uint8Array[] = [];
      const pty = await sb.pty.create({ cols: 80, rows: 24, onData: (d) => void out.push(d) });
      const m = marker();
      await sb.pty.sendInput(
        pty.pid,
        new TextEncoder().encode(`trap 'echo ${m}-winch' WINCH; echo ${m}-ready-$((40+2))\n`),
      );
      await waitFor(() => text(out).includes(`${m}-ready-42`));
      await sb.pty.resize(pty.pid, { cols: 120, rows: 40 });
      await sb.pty.sendInput(pty.pid, new TextEncoder().encode(`stty size; echo ${m}-sized-$((40+2))\n`));
      await waitFor(() => text(out).includes(`${m}-sized-42`));
      expect(text(out)).toContain("40 120");
      expect(text(out)).toContain(`${m}-winch`);
      await sb.pty.kill(pty.pid);
    });
  });

  it("exits with the shell's status when the shell exits", async () => {
    await withSandbox(async (sb) => {
      const pty = await sb.pty.create({ cols: 80, rows: 24, onData: () => {} });
      await sb.pty.sendInput(pty.pid, new TextEncoder().encode("exit 3\n"));
      const err = await pty.wait().catch((e) => e);
      expect(err.exitCode).toBe(3);
    });
  });

  it("^C interrupts the foreground program, not the shell", async () => {
    await withSandbox(async (sb) => {
      const out: Uint8Array[] = [];
      const pty = await sb.pty.create({ cols: 80, rows: 24, onData: (d) => void out.push(d) });
      const m = marker();
      await sb.pty.sendInput(pty.pid, new TextEncoder().encode("sleep 1000\n"));
      await waitFor(async () => (await sb.commands.run("pgrep -x sleep || true")).stdout.trim());
      await sb.pty.sendInput(pty.pid, new Uint8Array([3]));
      // the shell survives and reports the interrupted job's status (128 + SIGINT)
      await sb.pty.sendInput(pty.pid, new TextEncoder().encode(`echo ${m}-after $?\n`));
      await waitFor(() => text(out).includes(`${m}-after 130`));
      expect((await sb.commands.run("pgrep -x sleep || true")).stdout.trim()).toBe("");
      await sb.pty.kill(pty.pid);
    });
  });

  it("connect reattaches to a running PTY by pid and streams what comes next", async () => {
    await withSandbox(async (sb) => {
      const first: Uint8Array[] = [];
      const pty = await sb.pty.create({ cols: 80, rows: 24, onData: (d) => void first.push(d) });
      const m1 = marker();
      await sb.pty.sendInput(pty.pid, new TextEncoder().encode(`echo ${m1}-$((40+2))\n`));
      await waitFor(() => text(first).includes(`${m1}-42`));
      await pty.disconnect();

      const again: Uint8Array[] = [];
      const handle = await sb.pty.connect(pty.pid, { onData: (d) => void again.push(d) });
      expect(handle.pid).toBe(pty.pid);
      const m2 = marker();
      await sb.pty.sendInput(pty.pid, new TextEncoder().encode(`echo ${m2}-$((40+2))\n`));
      await waitFor(() => text(again).includes(`${m2}-42`));
      expect(text(again)).not.toContain(`${m1}-42`);
      // the first handle is detached: it got nothing after disconnecting
      expect(text(first)).not.toContain(m2);
      await sb.pty.kill(pty.pid);
      const err = await handle.wait().catch((e) => e);
      expect(String(err?.error ?? err?.message)).toContain("signal: killed");
      await expect(sb.pty.connect(pty.pid)).rejects.toThrow();
    });
  });

  it("runs as the chosen user", async () => {
    await withSandbox(async (sb) => {
      const out: Uint8Array[] = [];
      const pty = await sb.pty.create({ cols: 80, rows: 24, user: "root", onData: (d) => void out.push(d) });
      const m = marker();
      await sb.pty.sendInput(pty.pid, new TextEncoder().encode(`echo ${m}-$(id -u)\n`));
      await waitFor(() => text(out).includes(`${m}-0\r\n`));
      await sb.pty.kill(pty.pid);
    });
  });
});
