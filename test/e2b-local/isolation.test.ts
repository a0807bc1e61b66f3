// Sandboxes are apart from each other and from the host: files, processes, tokens, network, mounts;
// kill leaves nothing behind; many run at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandExitError, Sandbox } from "e2b";
import { conn, hostLeftovers, marker, waitFor, withSandbox } from "./helpers.ts";

// A host file the sandboxes must not see, made here (a fixed path could be missing on another machine
// and pass trivially).
let canary = "";
beforeAll(async () => {
  canary = join(await mkdtemp(join(tmpdir(), "e2b-canary-")), "host-only");
  await writeFile(canary, "host");
});
afterAll(() => rm(join(canary, ".."), { recursive: true, force: true }));

/** Host-side: the sandbox directory holding a file named `name` in its home (found via the data dirs). */
async function findBoxDir(name: string): Promise<string | null> {
  for (const d of await readdir(tmpdir())) {
    if (!d.startsWith("e2b-local-test-")) continue;
    for (const b of await readdir(join(tmpdir(), d)).catch(() => [] as string[])) {
      if (existsSync(join(tmpdir(), d, b, "fs", "home", name))) return join(tmpdir(), d, b);
    }
  }
  return null;
}

describe("isolation", () => {
  it("sandboxes cannot see each other's files or processes", async () => {
    await withSandbox(async (a) => {
      await withSandbox(async (b) => {
        const m = marker();
        await a.files.write(`/home/user/${m}.txt`, "secret of A");
        await a.commands.run(`printf x > /tmp/${m}.tmp`);
        const bg = await a.commands.run(`exec -a ${m} sleep 600`, { background: true, timeoutMs: 0 });
        // the shell's exec may not have happened yet when run() returns the pid
        const seen = await waitFor(async () => (await a.commands.run(`pgrep -f "^${m}" || true`)).stdout.trim());
        expect(seen).toBe(String(bg.pid));

        expect(await b.files.exists(`/home/user/${m}.txt`)).toBe(false);
        expect(await b.files.exists(`/tmp/${m}.tmp`)).toBe(false);
        const search = await b.commands.run(
          `find /home /tmp /root /var/tmp /run -name '${m}*' 2>/dev/null; ps -eo args | grep -c '^${m}' || true`,
          { user: "root" },
        );
        expect(search.stdout).toBe("0\n");
        expect((await b.commands.list()).map((p) => p.pid)).not.toContain(bg.pid);
        // B's token does not drive A
        const tokenOfB = (b as unknown as { envdAccessToken?: string }).envdAccessToken;
        expect(tokenOfB).toMatch(/^[0-9a-f]{32}$/);
        const r = await fetch(`${inject()}/process.Process/List`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "E2b-Sandbox-Id": a.sandboxId,
            "X-Access-Token": tokenOfB!,
            "Connect-Protocol-Version": "1",
          },
          body: "{}",
        });
        expect(r.status).toBe(401);
        expect(await r.json()).toMatchObject({ code: "unauthenticated" });
      });
    });
  });

  it("has no network and its own hostname, pid 1 and mounts", async () => {
    await withSandbox(async (sb) => {
      const url = new URL(inject());
      const py = `
import socket
for host, port in (("${url.hostname}", ${url.port}), ("1.1.1.1", 53)):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, port)); print("connected", host)
    except OSError as e:
        print("blocked", host)
`;
      const r = await sb.commands.run(`python3 -c '${py}'`);
      expect(r.stdout).toContain(`blocked ${url.hostname}`);
      expect(r.stdout).toContain("blocked 1.1.1.1");
      expect(r.stdout).not.toContain("connected");
      const ifaces = await sb.commands.run("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
      expect(ifaces.stdout).toBe("lo\n");
      expect((await sb.commands.run("hostname")).stdout).toBe("e2b\n");
      // the host's files are not there
      expect(existsSync(canary)).toBe(true);
      expect(
        (await sb.commands.run(`test -e ${canary} || test -e /root/.pyenv || echo clean`, { user: "root" })).stdout,
      ).toBe("clean\n");
      // read-only system dirs, even for root
      await expect(sb.commands.run("touch /usr/bin/x", { user: "root" })).rejects.toBeInstanceOf(CommandExitError);
    });
  });

  it("kill leaves nothing behind: processes, directories, open handles", async () => {
    const sb = await Sandbox.create(conn());
    const m = marker();
    await sb.files.write(`/home/user/${m}`, "x");
    await sb.commands.run(`exec -a ${m} sleep 600`, { background: true, timeoutMs: 0 });
    await sb.commands.run(
      `(exec -a ${m}-orphan sleep 600 &) ; exec 3>/tmp/held; exec -a ${m}-fd sleep 600 3>/home/user/fdfile`,
      { background: true, timeoutMs: 0 },
    );
    const dir = await findBoxDir(m);
    expect(dir).not.toBeNull();
    // the background commands exec their marked names a moment after `run` returns: wait for them
    expect((await waitFor(async () => (await hostLeftovers(m, dir!)).length >= 3 && true)) === true).toBe(true);
    expect(await sb.kill()).toBe(true);
    expect(existsSync(dir!)).toBe(false);
    expect(await hostLeftovers(m, dir!)).toEqual([]);
    expect(await sb.isRunning()).toBe(false);
  });

  it("runs 20 sandboxes at once", async () => {
    const boxes = await Promise.all(Array.from({ length: 20 }, () => Sandbox.create(conn())));
    try {
      expect(new Set(boxes.map((b) => b.sandboxId)).size).toBe(20);
      await Promise.all(boxes.map((b, i) => b.files.write("/home/user/id", String(i))));
      const outs = await Promise.all(boxes.map((b) => b.commands.run("cat /home/user/id; ls /home/user | wc -l")));
      for (const [i, o] of outs.entries()) expect(o.stdout).toBe(`${i}1\n`);
      const listed = await Sandbox.list({ ...conn(), limit: 100 }).nextItems();
      for (const b of boxes) expect(listed.map((s) => s.sandboxId)).toContain(b.sandboxId);
    } finally {
      expect(await Promise.all(boxes.map((b) => b.kill()))).toEqual(boxes.map(() => true));
    }
  });
});

function inject(): string {
  return conn().sandboxUrl as string;
}
