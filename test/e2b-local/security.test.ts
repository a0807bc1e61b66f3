// Security regressions: /files needs the sandbox's access token, and the Files API never follows a
// symlink planted by sandbox code out of the sandbox's view (also not when it races the API).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Sandbox } from "e2b";
import { conn, withSandbox } from "./helpers.ts";

// Host canary, outside the data dir: `hostsecret` must never be read, written, moved or removed and
// nothing may be created next to them. Inside a sandbox this path does not exist (its /tmp is its own).
const SECRET = "host secret, never to be read through the API";
let H = "";
beforeAll(async () => {
  H = await mkdtemp(join(tmpdir(), "e2b-canary-"));
  await writeFile(join(H, "hostsecret"), SECRET);
  await writeFile(join(H, "only-on-host"), SECRET);
});
afterAll(() => rm(H, { recursive: true, force: true }));
async function expectCanaryIntact() {
  expect((await readdir(H)).sort()).toEqual(["hostsecret", "only-on-host"]);
  expect(await readFile(join(H, "hostsecret"), "utf8")).toBe(SECRET);
  expect(await readFile(join(H, "only-on-host"), "utf8")).toBe(SECRET);
}
const settle = <T>(p: Promise<T>) =>
  p.then(
    (v) => ({ ok: true as const, v }),
    () => ({ ok: false as const, v: undefined }),
  );

describe("security", () => {
  it("/files requires the sandbox's X-Access-Token (missing or wrong → 401)", async () => {
    await withSandbox(async (sb) => {
      const url = conn().sandboxUrl as string;
      const token = (sb as unknown as { envdAccessToken: string }).envdAccessToken;
      expect(token).toBeTruthy();
      await sb.files.write("/home/user/t.txt", "secret");
      const get = (h: Record<string, string>) =>
        fetch(`${url}/files?path=/home/user/t.txt`, { headers: { "E2b-Sandbox-Id": sb.sandboxId, ...h } });
      const post = (h: Record<string, string>, body: string) =>
        fetch(`${url}/files?path=/home/user/p.txt`, {
          method: "POST",
          headers: { "E2b-Sandbox-Id": sb.sandboxId, "content-type": "application/octet-stream", ...h },
          body,
        });
      for (const [i, h] of [
        {} as Record<string, string>,
        { "X-Access-Token": "wrong" },
        { "X-Access-Token": `${token}0` },
      ].entries()) {
        const g = await get(h);
        expect(g.status).toBe(401);
        expect(await g.json()).toMatchObject({ code: 401 });
        expect((await post(h, `refused ${i}`)).status).toBe(401);
      }
      // the refused POSTs wrote nothing: no file at all before the good one
      expect(await sb.files.exists("/home/user/p.txt")).toBe(false);
      const ok = await get({ "X-Access-Token": token });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe("secret");
      expect((await post({ "X-Access-Token": token }, "accepted")).status).toBe(200);
      expect(await sb.files.read("/home/user/p.txt")).toBe("accepted");
    });
  });

  it("symlinks planted by sandbox code lead where they lead inside the sandbox, never to the host", async () => {
    await withSandbox(async (sb) => {
      await sb.commands.run(
        `mkdir -p d && echo inside > d/x && ln -s ${H}/hostsecret f && ln -s ${H} hd && ln -s ${H}/hostsecret d/y`,
      );
      // read: the target does not exist in the sandbox's view
      await expect(sb.files.read("/home/user/f")).rejects.toThrow();
      await expect(sb.files.read("/home/user/hd/hostsecret")).rejects.toThrow();
      // write through a link (last component, and a directory component): lands in the sandbox's /tmp
      await sb.files.write("/home/user/f", "pwned");
      await sb.files.write("/home/user/hd/only-on-host", "pwned");
      expect((await sb.commands.run(`cat ${H}/hostsecret ${H}/only-on-host`)).stdout).toBe("pwnedpwned");
      // list / rename / remove / makeDir through a directory link
      await expect(sb.files.list("/home/user/hd")).resolves.toEqual(
        expect.arrayContaining([expect.objectContaining({ name: "hostsecret" })]),
      );
      await sb.files.rename("/home/user/hd/hostsecret", "/home/user/moved");
      expect(await sb.files.read("/home/user/moved")).toBe("pwned");
      await sb.files.remove("/home/user/hd/only-on-host");
      await sb.files.makeDir("/home/user/hd/newdir");
      // the link itself is renamed / removed, not its target
      await sb.files.rename("/home/user/d/y", "/home/user/y2");
      await sb.files.remove("/home/user/y2");
      await sb.files.remove("/home/user/hd");
      expect((await sb.commands.run("ls -A; ls -A d")).stdout).toBe("d\nf\nmoved\nx\n");
      await expectCanaryIntact();
    });
  });

  it("a path flipped between a file/dir and a symlink to the host while the API works on it: the host is never touched", async () => {
    await withSandbox(async (sb: Sandbox) => {
      // f and d swap places with links to the host canary (atomically with renameat2 RENAME_EXCHANGE
      // when the host filesystem has it), as fast as Python can; bounded, stops at /tmp/stop.
      const flipper = `
import ctypes, os
os.chdir("/home/user")
dfd = os.open("d", os.O_RDONLY)
libc = ctypes.CDLL(None, use_errno=True)
def exchange(a, b):
    if libc.renameat2(-100, a, -100, b, 2) != 0:  # fall back: two renames through a spare name
        os.rename(a, b"t"); os.rename(b, a); os.rename(b"t", b)
n = 0
for n in range(20_000_000):
    exchange(b"f", b".f"); exchange(b"d", b".d")
    if n % 512 == 0:
        if not os.path.exists("f") and not os.path.lexists(".f"): open("f", "w").write("inside")
        try: os.close(os.open("hostsecret", os.O_WRONLY | os.O_CREAT, dir_fd=dfd))
        except OSError: pass
        if os.path.exists("/tmp/stop"): break
print(n)
`;
      await sb.files.write("/tmp/flip.py", flipper);
      await sb.commands.run(
        `mkdir d && echo inside > d/hostsecret && echo inside > f && ln -s ${H}/hostsecret .f && ln -s ${H} .d`,
      );
      const h = await sb.commands.run("python3 /tmp/flip.py", { background: true, timeoutMs: 0 });
      const readBack: unknown[] = [];
      const listed: string[] = [];
      for (let i = 0; i < 40; i++) {
        await settle(sb.files.write("/home/user/f", "pwned"));
        await settle(sb.files.write("/home/user/d/hostsecret", "pwned"));
        readBack.push(
          (await settle(sb.files.read("/home/user/f"))).v,
          (await settle(sb.files.read("/home/user/d/hostsecret"))).v,
        );
        const l = await settle(sb.files.list("/home/user/d"));
        if (l.ok) listed.push(...l.v.map((e) => e.name));
        await settle(sb.files.makeDir(`/home/user/d/new${i}`));
        await settle(sb.files.rename("/home/user/d/hostsecret", `/home/user/moved${i}`));
        await settle(sb.files.remove("/home/user/d/hostsecret"));
        await settle(sb.files.remove(`/home/user/d/new${i}`));
      }
      await sb.files.write("/tmp/stop", "");
      const done = await h.wait();
      expect(Number(done.stdout.trim())).toBeGreaterThan(0);
      await expectCanaryIntact();
      expect(readBack).not.toContain(SECRET);
      expect(listed).not.toContain("only-on-host");
    });
  });
});
