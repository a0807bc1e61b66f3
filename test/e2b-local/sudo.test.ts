// sudo inside a sandbox (passwordless for `user`, as in E2B's base template) and scoped envs that
// never leak from one command into the next, with or without sudo; driven by the unmodified SDK.
import { describe, expect, it } from "vitest";
import { marker, waitFor, withSandbox } from "./helpers.ts";

describe("sudo", () => {
  it("user runs commands as root without a password; status, stdin and -u pass through", async () => {
    await withSandbox(async (sb) => {
      const r = await sb.commands.run(
        "id -un; sudo -n id -un; sudo id -u; echo piped | sudo cat; sudo -u user id -un; sudo sh -c 'exit 4'; echo status=$?",
      );
      expect(r.stdout).toBe("user\nroot\n0\npiped\nuser\nstatus=4\n");
      // root-only things really are allowed through it, and the files it makes are root's
      const m = marker();
      await sb.commands.run(`sudo touch /root/${m} && sudo sh -c 'echo hi > /home/user/${m}'`);
      expect((await sb.commands.run(`sudo ls /root/${m}; stat -c %U /home/user/${m}`)).stdout).toBe(
        `/root/${m}\nroot\n`,
      );
      // as a non-sudo call it is refused
      const denied = await sb.commands.run("ls /root").catch((e) => e);
      expect(denied.exitCode).not.toBe(0);
      // an unknown command fails like sudo's
      const missing = await sb.commands.run("sudo no-such-command-xyz").catch((e) => e);
      expect(missing.exitCode).toBe(1);
      expect(missing.stderr).toContain("command not found");
      // -i: root's login shell in root's home
      expect((await sb.commands.run("sudo -i pwd")).stdout).toBe("/root\n");
    });
  });

  it("sudo resets the environment (env_reset) unless -E; HOME/USER/SUDO_USER are the target's", async () => {
    await withSandbox(async (sb) => {
      const r = await sb.commands.run(
        'sudo env | sort | grep -E "^(SCOPED|HOME|USER|SUDO_USER|PATH)="; echo ---; sudo -E sh -c \'echo "E=$SCOPED"\'',
        { envs: { SCOPED: "only-here" } },
      );
      const [reset, kept] = r.stdout.split("---\n");
      expect(reset).not.toContain("SCOPED");
      expect(reset).toContain("HOME=/root\n");
      expect(reset).toContain("USER=root\n");
      expect(reset).toContain("SUDO_USER=user\n");
      expect(reset).toContain("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
      expect(kept).toBe("E=only-here\n");
      // VAR=value arguments set that variable for the command only
      expect((await sb.commands.run("sudo ONE=1 sh -c 'echo $ONE'")).stdout).toBe("1\n");
    });
  });

  it("a command's envs never leak into the next command, plain or under sudo", async () => {
    await withSandbox(
      async (sb) => {
        const m = marker();
        const first = await sb.commands.run("echo $SCOPED; sudo -E sh -c 'echo $SCOPED'", { envs: { SCOPED: m } });
        expect(first.stdout).toBe(`${m}\n${m}\n`);
        const next = await sb.commands.run(
          'echo "[$SCOPED][$FROM_CREATE]"; sudo -E sh -c \'echo "[$SCOPED][$FROM_CREATE]"\'; sudo sh -c \'echo "[$SCOPED]"\'',
        );
        expect(next.stdout).toBe("[][create]\n[][create]\n[]\n");
        // the same as root
        await sb.commands.run("true", { user: "root", envs: { SCOPED: m } });
        expect((await sb.commands.run('echo "[$SCOPED]"', { user: "root" })).stdout).toBe("[]\n");
      },
      { envs: { FROM_CREATE: "create" } },
    );
  });

  it("killing the command that ran sudo ends the elevated process too", async () => {
    await withSandbox(async (sb) => {
      const h = await sb.commands.run("sudo sleep 998", { background: true });
      // (anchored: the pgrep's own `bash -c` line contains the pattern too)
      await waitFor(async () => (await sb.commands.run("pgrep -f '^sleep 998' || true")).stdout.trim());
      expect((await sb.commands.run("ps -o user= -p $(pgrep -f '^sleep 998')")).stdout.trim()).toBe("root");
      await sb.commands.kill(h.pid);
      await waitFor(async () => (await sb.commands.run("pgrep -f '^sleep 998' || true")).stdout === "");
    });
  });

  it("works on a PTY, ^C reaching the elevated program", async () => {
    await withSandbox(async (sb) => {
      const out: Uint8Array[] = [];
      const pty = await sb.pty.create({ cols: 80, rows: 24, onData: (d) => void out.push(d) });
      const text = () => Buffer.concat(out.map((c) => Buffer.from(c))).toString();
      const m = marker();
      await sb.pty.sendInput(pty.pid, new TextEncoder().encode(`sudo whoami; sudo sleep 997\n`));
      await waitFor(async () => (await sb.commands.run("pgrep -f '^sleep 997' || true")).stdout.trim());
      expect(text()).toContain("root\r\n");
      await sb.pty.sendInput(pty.pid, new Uint8Array([3]));
      await sb.pty.sendInput(pty.pid, new TextEncoder().encode(`echo ${m}-$?\n`));
      await waitFor(() => text().includes(`${m}-130`));
      expect((await sb.commands.run("pgrep -f '^sleep 997' || true")).stdout).toBe("");
      await sb.pty.kill(pty.pid);
    });
  });
});
