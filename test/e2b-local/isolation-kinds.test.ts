// The sandbox shape, checked for each isolation kind (bubblewrap and the util-linux `unshare`
// fallback): each suite starts its own e2b-local with that kind forced. The shared suite
// (isolation.test.ts etc.) runs with whatever the host picks; E2B_LOCAL_ISOLATION=unshare runs it all
// on the fallback.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Sandbox } from "e2b";
import { startE2bLocal } from "e2b-local";
import type { E2bLocal } from "e2b-local";
import { hostLeftovers, marker, waitFor } from "./helpers.ts";

/** Prints those of its (file) arguments that exist and can be opened for writing; nothing is written. */
const WRITABLE_PY = `
import os, sys
for p in sys.argv[1:]:
    try:
        os.close(os.open(p, os.O_WRONLY)); print("writable", p)
    except OSError:
        pass
`;

it("refuses an unknown isolation kind", async () => {
  await expect(startE2bLocal({ port: 0, isolation: "chroot" as "bwrap" })).rejects.toThrow(/unknown isolation/);
});

describe.each(["bwrap", "unshare"] as const)("isolation %s", (kind) => {
  let srv: E2bLocal;
  let dataDir: string;
  const conn = () => ({ apiUrl: srv.url, sandboxUrl: srv.url, apiKey: srv.apiKey });

  // a host file no sandbox may see, made here so the check cannot pass on a machine that lacks it
  let canary = "";
  beforeAll(async () => {
    canary = join(await mkdtemp(join(tmpdir(), "e2b-canary-")), "host-only");
    await writeFile(canary, "host");
    dataDir = await mkdtemp(join(tmpdir(), `e2b-local-kind-${kind}-`));
    srv = await startE2bLocal({ port: 0, dataDir, isolation: kind, poolSize: 1 });
  });
  afterAll(async () => {
    await srv?.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(join(canary, ".."), { recursive: true, force: true });
  });

  it("runs commands as user and root, python3 and node work", async () => {
    expect(srv.isolation.kind).toBe(kind);
    const sb = await Sandbox.create(conn());
    try {
      const r = await sb.commands.run("id -un; pwd; hostname; python3 -c 'print(6*7)'; node -e 'console.log(2**10)'");
      expect(r.stdout).toBe("user\n/home/user\ne2b\n42\n1024\n");
      expect((await sb.commands.run("id -u", { user: "root" })).stdout).toBe("0\n");
    } finally {
      await sb.kill();
    }
  });

  it("own pid namespace, no network (lo up), read-only system, hardened root; A cannot see B", async () => {
    const [a, b] = await Promise.all([Sandbox.create(conn()), Sandbox.create(conn())]);
    try {
      const m = marker();
      const bg = await a.commands.run(`exec -a ${m} sleep 600`, { background: true, timeoutMs: 0 });
      // ps sees only the sandbox: its init (agent, under bwrap also bwrap itself), the command, the job
      // (once its bash has exec'd the marked name, a moment after `run` returned: wait for that)
      const lines = await waitFor(async () => {
        const ps = await a.commands.run("ps -eo pid=,args=");
        const found = ps.stdout
          .trim()
          .split("\n")
          .map((l) => l.trim());
        return found.some((l) => l === `${bg.pid} ${m} 600`) && found;
      });
      for (const l of lines)
        expect(l).toMatch(/\/run\/e2b\/agent\.py|^\d+ \/bin\/bash -l -c ps|^\d+ ps -eo|^\d+ mk[a-z0-9]+ 600$/);
      expect(lines.some((l) => /^1 /.test(l))).toBe(true);
      expect((await b.commands.run(`ps -eo args | grep -c '^${m}' || true`)).stdout).toBe("0\n");

      // files: the API and commands see the same files; B sees none of A's
      await a.files.write(`/home/user/${m}.txt`, "from api");
      expect((await a.commands.run(`cat /home/user/${m}.txt; printf cmd > /tmp/${m}.tmp`)).stdout).toBe("from api");
      expect(await a.files.read(`/tmp/${m}.tmp`)).toBe("cmd");
      expect(await b.files.exists(`/home/user/${m}.txt`)).toBe(false);
      const found = await b.commands.run(
        `find / -xdev -name '${m}*' 2>/dev/null; find /home /tmp /root -name '${m}*'`,
        { user: "root" },
      );
      expect(found.stdout).toBe("");

      const url = new URL(srv.url);
      const py = `
import socket, threading
def probe(host, port):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, port)); return "connected"
    except OSError:
        return "blocked"
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
print("lo", probe("127.0.0.1", srv.getsockname()[1]))
print("host", probe("${url.hostname}", ${url.port}))
print("net", probe("1.1.1.1", 53))
`;
      expect((await a.commands.run(`python3 -c '${py}'`)).stdout).toBe("lo connected\nhost blocked\nnet blocked\n");
      expect((await a.commands.run("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")).stdout).toBe("lo\n");

      // sandbox root: read-only system view it cannot remount, no kernel settings, no shadow, no CAP_SYS_ADMIN
      expect(existsSync(canary)).toBe(true);
      const root = await a.commands.run(
        [
          "touch /usr/x 2>/dev/null && echo wrote-usr",
          "mount -o remount,rw /usr 2>/dev/null && echo remounted",
          "mount -t tmpfs x /mnt 2>/dev/null && echo mounted",
          // opened for writing, never written: a failing check must not change the host
          `python3 -c '${WRITABLE_PY}' /proc/sys/kernel/core_pattern /proc/sys/kernel/hostname /proc/sysrq-trigger /proc/irq/default_smp_affinity /usr/bin/env /etc/hostname /etc/passwd`,
          "(cat /etc/shadow /etc/gshadow 2>/dev/null) | wc -c",
          "cut -d: -f1 /etc/passwd | tr '\\n' ' '",
          `test -e ${canary} || echo no-host-files`,
          'python3 -c \'import sys; c=int(open("/proc/self/status").read().split("CapEff:")[1].split()[0],16); print("sys_admin" if c>>21&1 else "no-sys_admin")\'',
        ].join("; "),
        { user: "root" },
      );
      expect(root.stdout).toBe("0\nroot user nobody no-host-files\nno-sys_admin\n");
      // the bounding set is Docker's default minus mknod, under either isolation (view.ts KEEP_CAPS)
      expect((await a.commands.run("grep CapBnd /proc/self/status", { user: "root" })).stdout).toBe(
        "CapBnd:\t00000000a00425fb\n",
      );
    } finally {
      await Promise.all([a.kill(), b.kill()]);
    }
  });

  it("kill leaves no process, handle or folder behind", async () => {
    const sb = await Sandbox.create(conn());
    const m = marker();
    await sb.files.write(`/home/user/${m}`, "x");
    await sb.commands.run(`exec -a ${m} sleep 600`, { background: true, timeoutMs: 0 });
    await sb.commands.run(`(exec -a ${m}-orphan sleep 600 &) ; exec -a ${m}-fd sleep 600 3>/home/user/fdfile`, {
      background: true,
      timeoutMs: 0,
    });
    let dir: string | null = null;
    for (const b of await readdir(dataDir)) if (existsSync(join(dataDir, b, "fs", "home", m))) dir = join(dataDir, b);
    expect(dir).not.toBeNull();
    // the background commands exec their marked names a moment after `run` returns: wait for them
    await waitFor(async () => (await hostLeftovers(m, dir!)).length >= 3);
    expect(await sb.kill()).toBe(true);
    expect(existsSync(dir!)).toBe(false);
    expect(await hostLeftovers(m, dir!)).toEqual([]);
    expect(await hostLeftovers(dir!, dir!)).toEqual([]);
  });
});
