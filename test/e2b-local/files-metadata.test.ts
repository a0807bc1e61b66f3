// Files through the unmodified SDK: metadata kept as `user.e2b.*` extended attributes (set on write,
// seen by getInfo/list/rename, set or read from inside with setfattr/getfattr, cleared on overwrite),
// removing a missing path, multi-file writes, and watchDir events with entry info.
import { describe, expect, it } from "vitest";
import { FilesystemEventType } from "e2b";
import type { FilesystemEvent } from "e2b";
import { conn, waitFor, withSandbox } from "./helpers.ts";

describe("file metadata (extended attributes)", () => {
  it("is set on write, seen by getInfo, list and rename, and lives on the file as xattrs", async () => {
    await withSandbox(async (sb) => {
      const metadata = { author: "mish", purpose: "upload" };
      const info = await sb.files.write("meta.txt", "content", { metadata });
      expect(info.metadata).toEqual(metadata);
      expect((await sb.files.getInfo("meta.txt")).metadata).toEqual(metadata);
      // octet-stream uploads carry it too
      const octet = await sb.files.write("octet.txt", "x", { metadata: { k: "v" }, useOctetStream: true });
      expect(octet.metadata).toEqual({ k: "v" });
      const listed = await sb.files.list("/home/user");
      expect(listed.find((e) => e.name === "meta.txt")?.metadata).toEqual(metadata);
      expect(listed.find((e) => e.name === "octet.txt")?.metadata).toEqual({ k: "v" });
      // it is the file's own xattrs: visible inside, and they travel with a rename
      const inside = await sb.commands.run("getfattr -d --absolute-names /home/user/meta.txt");
      expect(inside.stdout).toContain('user.e2b.author="mish"');
      expect(inside.stdout).toContain('user.e2b.purpose="upload"');
      const moved = await sb.files.rename("meta.txt", "moved.txt");
      expect(moved.metadata).toEqual(metadata);
      expect((await sb.commands.run("cp -a moved.txt copy.txt")).exitCode).toBe(0);
      expect((await sb.files.getInfo("copy.txt")).metadata).toEqual(metadata);
    });
  });

  it("set from inside with setfattr (user.e2b.*) shows up; other user.* xattrs do not", async () => {
    await withSandbox(async (sb) => {
      await sb.files.write("plain.txt", "content");
      expect((await sb.files.getInfo("plain.txt")).metadata).toBeUndefined();
      await sb.commands.run(
        "setfattr -n user.e2b.author -v mish plain.txt && setfattr -n user.other -v x plain.txt && " +
          "python3 -c \"import os; os.setxattr('plain.txt', 'user.e2b.via', b'python')\"",
      );
      expect((await sb.files.getInfo("plain.txt")).metadata).toEqual({ author: "mish", via: "python" });
      const entry = (await sb.files.list("/home/user")).find((e) => e.name === "plain.txt");
      expect(entry?.metadata).toEqual({ author: "mish", via: "python" });
      // removed from inside: gone
      await sb.commands.run("setfattr -x user.e2b.author plain.txt");
      expect((await sb.files.getInfo("plain.txt")).metadata).toEqual({ via: "python" });
    });
  });

  it("an overwrite replaces the metadata: none sent clears it, other keys replace it", async () => {
    await withSandbox(async (sb) => {
      await sb.files.write("over.txt", "first", { metadata: { author: "mish", stale: "yes" } });
      const replaced = await sb.files.write("over.txt", "second", { metadata: { author: "other" } });
      expect(replaced.metadata).toEqual({ author: "other" });
      expect((await sb.files.getInfo("over.txt")).metadata).toEqual({ author: "other" });
      const cleared = await sb.files.write("over.txt", "third");
      expect(cleared.metadata).toBeUndefined();
      expect((await sb.files.getInfo("over.txt")).metadata).toBeUndefined();
      expect((await sb.commands.run("getfattr -d over.txt")).stdout).not.toContain("user.e2b.");
      expect(await sb.files.read("over.txt")).toBe("third");
    });
  });

  it("is checked by the server too: an oversized key or total is refused with 400", async () => {
    await withSandbox(async (sb) => {
      const { sandboxUrl } = conn();
      const url = `${sandboxUrl}/files?path=${encodeURIComponent("/home/user/big.txt")}`;
      const headers = {
        "E2b-Sandbox-Id": sb.sandboxId,
        "E2b-Sandbox-Port": "49983",
        "X-Access-Token": (sb as unknown as { envdAccessToken?: string }).envdAccessToken ?? "",
        "Content-Type": "application/octet-stream",
      };
      const longKey = await fetch(url, {
        method: "POST",
        headers: { ...headers, [`X-Metadata-${"k".repeat(247)}`]: "v" },
        body: "x",
      });
      expect(longKey.status).toBe(400);
      const big: Record<string, string> = {};
      for (let i = 0; i < 5; i++) big[`X-Metadata-k${i}`] = "v".repeat(1000);
      const tooMuch = await fetch(url, { method: "POST", headers: { ...headers, ...big }, body: "x" });
      expect(tooMuch.status).toBe(400);
      expect(await sb.files.exists("big.txt")).toBe(false);
      const ok = await fetch(url, { method: "POST", headers: { ...headers, "X-Metadata-Mixed-Case": "v" }, body: "x" });
      expect(ok.status).toBe(200);
      expect((await sb.files.getInfo("big.txt")).metadata).toEqual({ "mixed-case": "v" });
    });
  });
});

describe("files", () => {
  it("removing a path that does not exist is not an error", async () => {
    await withSandbox(async (sb) => {
      await expect(sb.files.remove("/home/user/never-there")).resolves.toBeUndefined();
      await expect(sb.files.remove("/home/user/no/such/dir")).resolves.toBeUndefined();
      await sb.files.write("gone.txt", "x");
      await sb.files.remove("gone.txt");
      await expect(sb.files.remove("gone.txt")).resolves.toBeUndefined();
      expect(await sb.files.exists("gone.txt")).toBe(false);
    });
  });

  it("a multi-file write puts every file at its own path, metadata on each", async () => {
    await withSandbox(async (sb) => {
      const infos = await sb.files.write(
        [
          { path: "/home/user/multi/a.txt", data: "A" },
          { path: "multi/deep/b.txt", data: "B" },
          { path: "/tmp/c.txt", data: new TextEncoder().encode("C").buffer as ArrayBuffer },
        ],
        { metadata: { source: "suite" } },
      );
      expect(infos.map((i) => i.path)).toEqual(["/home/user/multi/a.txt", "/home/user/multi/deep/b.txt", "/tmp/c.txt"]);
      for (const info of infos) expect(info.metadata).toEqual({ source: "suite" });
      expect(await sb.files.read("/home/user/multi/a.txt")).toBe("A");
      expect(await sb.files.read("/home/user/multi/deep/b.txt")).toBe("B");
      expect(await sb.files.read("/tmp/c.txt")).toBe("C");
      expect((await sb.files.getInfo("/tmp/c.txt")).metadata).toEqual({ source: "suite" });
      const r = await sb.commands.run("cat /home/user/multi/a.txt /home/user/multi/deep/b.txt /tmp/c.txt");
      expect(r.stdout).toBe("ABC");
    });
  });

  it("watchDir events carry the entry's info when asked (includeEntry)", async () => {
    await withSandbox(async (sb) => {
      await sb.files.makeDir("/home/user/w");
      const events: FilesystemEvent[] = [];
      const handle = await sb.files.watchDir("/home/user/w", (e) => void events.push(e), { includeEntry: true });
      await sb.files.write("/home/user/w/new.txt", "hello", { metadata: { seen: "yes" } });
      await sb.files.makeDir("/home/user/w/sub");
      await waitFor(() => events.some((e) => e.name === "sub" && e.entry));
      await waitFor(() => events.some((e) => e.name === "new.txt" && e.entry?.size === 5));
      const file = events.find((e) => e.name === "new.txt" && e.type === FilesystemEventType.WRITE && e.entry);
      expect(file?.entry).toMatchObject({ name: "new.txt", path: "/home/user/w/new.txt", type: "file", size: 5 });
      const dir = events.find((e) => e.name === "sub" && e.entry);
      expect(dir?.type).toBe(FilesystemEventType.CREATE);
      expect(dir?.entry).toMatchObject({ name: "sub", path: "/home/user/w/sub", type: "dir" });
      // a removal has no entry to describe
      await sb.files.remove("/home/user/w/sub");
      await waitFor(() => events.some((e) => e.name === "sub" && e.type === FilesystemEventType.REMOVE));
      expect(events.find((e) => e.name === "sub" && e.type === FilesystemEventType.REMOVE)?.entry).toBeUndefined();
      await handle.stop();
    });
  });
});
