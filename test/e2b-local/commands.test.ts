import { describe, expect, it } from "vitest";
import { CommandExitError } from "e2b";
import { marker, withSandbox } from "./helpers.ts";

describe("commands", () => {
  it("streams stdout/stderr while the process is still running", async () => {
    await withSandbox(async (sb) => {
      const events: string[] = [];
      let firstOut!: () => void;
      const gotFirst = new Promise<void>((r) => (firstOut = r));
      const h = await sb.commands.run('echo one; echo err1 >&2; read line; echo "got $line"', {
        background: true,
        stdin: true,
        onStdout: (d) => {
          events.push(`out:${d}`);
          if (d.includes("one")) firstOut();
        },
        onStderr: (d) => void events.push(`err:${d}`),
      });
      await gotFirst;
      // the process is blocked on `read`: it is still running while we got its output
      const running = await sb.commands.list();
      expect(running.map((p) => p.pid)).toContain(h.pid);
      await sb.commands.sendStdin(h.pid, "hello\n");
      const r = await h.wait();
      expect(r.stdout).toBe("one\ngot hello\n");
      expect(r.stderr).toBe("err1\n");
      expect(events.indexOf("out:one\n")).toBe(0);
      expect(events).toContain("out:got hello\n");
    });
  });

  it("exit codes, CommandExitError, envs, cwd, users", async () => {
    await withSandbox(
      async (sb) => {
        const err = await sb.commands.run("echo out; echo bad >&2; exit 7").catch((e) => e);
        expect(err).toBeInstanceOf(CommandExitError);
        expect(err.exitCode).toBe(7);
        expect(err.stdout).toBe("out\n");
        expect(err.stderr).toBe("bad\n");

        const env = await sb.commands.run('echo "$A|$B|$HOME|$USER|$PWD"', { envs: { B: "req", C: "x" } });
        expect(env.stdout).toBe("sandbox|req|/home/user|user|/home/user\n");

        await sb.files.makeDir("/home/user/work");
        expect((await sb.commands.run("pwd", { cwd: "/home/user/work" })).stdout).toBe("/home/user/work\n");
        await expect(sb.commands.run("pwd", { cwd: "/nonexistent/dir" })).rejects.toThrow();

        expect((await sb.commands.run("id -u; id -un")).stdout).toBe("1000\nuser\n");
        const root = await sb.commands.run("id -u; echo $HOME; pwd", { user: "root" });
        expect(root.stdout).toBe("0\n/root\n/root\n");
        // user cannot write root's home
        await expect(sb.commands.run("touch /root/x")).rejects.toBeInstanceOf(CommandExitError);
        // umask and login shell
        expect((await sb.commands.run("umask")).stdout.trim()).toBe("0022");
      },
      { envs: { A: "sandbox", B: "sandbox" } },
    );
  });

  it("kills a foreground command at its timeout", async () => {
    await withSandbox(async (sb) => {
      const m = marker();
      const err = await sb.commands.run(`exec -a ${m} sleep 600`, { timeoutMs: 1_000 }).catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(CommandExitError);
      // the process was killed by the server, not merely abandoned by the client
      let left = "";
      for (let i = 0; i < 50; i++) {
        left = (await sb.commands.run(`pgrep -f "^${m}" || true`)).stdout;
        if (!left) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(left).toBe("");
      expect(await sb.commands.list()).toHaveLength(0);
    });
  });

  it("background commands: list, connect, kill, a killed end, and client disconnect does not kill", async () => {
    await withSandbox(async (sb) => {
      const h = await sb.commands.run("for i in $(seq 1 1000); do echo tick $i; sleep 0.05; done", {
        background: true,
        timeoutMs: 0,
      });
      const list = await sb.commands.list();
      const p = list.find((x) => x.pid === h.pid)!;
      expect(p).toBeDefined();
      expect(p.cmd).toBe("/bin/bash");
      expect(p.args).toEqual(["-l", "-c", "for i in $(seq 1 1000); do echo tick $i; sleep 0.05; done"]);
      // drop our stream: the process keeps running
      await h.disconnect();
      const seen: string[] = [];
      let got!: () => void;
      const gotTick = new Promise<void>((r) => (got = r));
      const h2 = await sb.commands.connect(h.pid, {
        onStdout: (d) => {
          seen.push(d);
          got();
        },
        timeoutMs: 0,
      });
      await gotTick;
      expect(seen.join("")).toMatch(/tick \d+/);
      // `kill -0 <pid>` inside the sandbox means the pid commands.run reported
      expect((await sb.commands.run(`kill -0 ${h.pid} && echo alive`)).stdout).toBe("alive\n");
      expect(await sb.commands.kill(h.pid)).toBe(true);
      const err = await h2.wait().catch((e) => e);
      expect(err).toBeInstanceOf(CommandExitError);
      expect(err.error).toMatch(/signal: killed/);
      expect(await sb.commands.kill(h.pid)).toBe(false);
      expect(await sb.commands.list()).toHaveLength(0);
    });
  });

  it("stdin: sendStdin and closeStdin", async () => {
    await withSandbox(async (sb) => {
      const h = await sb.commands.run("cat; echo done", { background: true, stdin: true });
      await sb.commands.sendStdin(h.pid, "line1\n");
      await sb.commands.sendStdin(h.pid, "line2\n");
      await h.closeStdin();
      const r = await h.wait();
      expect(r.stdout).toBe("line1\nline2\ndone\n");
      // without stdin the process reads EOF immediately
      expect((await sb.commands.run("cat; echo eof")).stdout).toBe("eof\n");
    });
  });

  it("python3 and node work, and binary output survives", async () => {
    await withSandbox(async (sb) => {
      expect((await sb.commands.run("python3 -c 'print(6*7)'")).stdout).toBe("42\n");
      expect((await sb.commands.run("node -e 'console.log(6*7)'")).stdout).toBe("42\n");
      const big = await sb.commands.run("head -c 300000 /dev/zero | tr '\\0' a");
      expect(big.stdout.length).toBe(300000);
    });
  });

  it("resource limits apply to commands", async () => {
    await withSandbox(async (sb) => {
      // (processes are limited per sandbox by its pids cgroup, not per uid: resources.security.test.ts)
      const lim = await sb.commands.run("ulimit -f; ulimit -v");
      const [f, v] = lim.stdout.trim().split("\n");
      expect(f).not.toBe("unlimited");
      expect(v).not.toBe("unlimited");
      // a write past the file size limit fails (sparse: nothing big is written)
      const fs = await sb.commands.run("dd if=/dev/zero of=/tmp/big bs=1M seek=4000 count=1 2>&1").catch((e) => e);
      expect(fs).toBeInstanceOf(CommandExitError);
      // allocating past the memory limit fails
      const mem = await sb.commands.run("python3 -c 'x = bytearray(64 * 1024**3)'").catch((e) => e);
      expect(mem).toBeInstanceOf(CommandExitError);
      expect(mem.stderr).toContain("MemoryError");
    });
  });

  it("50 concurrent commands in one sandbox", async () => {
    await withSandbox(async (sb) => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => sb.commands.run(`echo ${i}; echo e${i} >&2`)),
      );
      results.forEach((r, i) => {
        expect(r.stdout).toBe(`${i}\n`);
        expect(r.stderr).toBe(`e${i}\n`);
      });
    });
  });
});
