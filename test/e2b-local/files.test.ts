import { describe, expect, it } from "vitest";
import { gzipSync } from "node:zlib";
import { FileNotFoundError, FilesystemEventType, type FilesystemEvent } from "e2b";
import { withSandbox } from "./helpers.ts";

const allBytes = () => Uint8Array.from({ length: 512 }, (_, i) => i % 256);

describe("files", () => {
  it("write and read text, bytes (all 256 values), blob and stream", async () => {
    await withSandbox(async (sb) => {
      const info = await sb.files.write("/home/user/hello.txt", "héllo wörld\n");
      expect(info).toMatchObject({ name: "hello.txt", path: "/home/user/hello.txt", type: "file" });
      expect(await sb.files.read("/home/user/hello.txt")).toBe("héllo wörld\n");
      expect(await sb.files.read("hello.txt")).toBe("héllo wörld\n"); // relative to home
      // the command sees the same file, and it belongs to `user`
      expect((await sb.commands.run("cat hello.txt; stat -c %U:%G hello.txt")).stdout).toBe("héllo wörld\nuser:user\n");

      const bytes = allBytes();
      await sb.files.write("/tmp/bin.dat", bytes.buffer as ArrayBuffer);
      expect(Array.from(await sb.files.read("/tmp/bin.dat", { format: "bytes" }))).toEqual(Array.from(bytes));
      expect((await sb.commands.run("md5sum < /tmp/bin.dat")).stdout.slice(0, 32)).toBe(
        (await import("node:crypto")).createHash("md5").update(bytes).digest("hex"),
      );
      const blob = await sb.files.read("/tmp/bin.dat", { format: "blob" });
      expect(new Uint8Array(await blob.arrayBuffer())).toEqual(bytes);
      const stream = await sb.files.read("/tmp/bin.dat", { format: "stream" });
      const chunks: Uint8Array[] = [];
      for await (const c of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
      expect(Buffer.concat(chunks)).toEqual(Buffer.from(bytes));
      // gzip in both directions
      expect(Array.from(await sb.files.read("/tmp/bin.dat", { format: "bytes", gzip: true }))).toEqual(
        Array.from(bytes),
      );
      await sb.files.write("/tmp/gz.txt", "compressed body", { gzip: true });
      expect(await sb.files.read("/tmp/gz.txt")).toBe("compressed body");
      // empty file
      await sb.files.write("/tmp/empty", "");
      expect(await sb.files.read("/tmp/empty")).toBe("");
      // a file written by a command is read back
      await sb.commands.run("printf 'from cmd' > /tmp/c.txt");
      expect(await sb.files.read("/tmp/c.txt")).toBe("from cmd");
      void gzipSync;
    });
  });

  it("writes several files in one call, creating parents; root ownership on request", async () => {
    await withSandbox(async (sb) => {
      const res = await sb.files.write([
        { path: "/home/user/a/b/one.txt", data: "1" },
        { path: "/home/user/a/two.txt", data: new Blob(["2"]) },
        { path: "/tmp/three.bin", data: allBytes().buffer as ArrayBuffer },
      ]);
      expect(res.map((r) => r.path)).toEqual(["/home/user/a/b/one.txt", "/home/user/a/two.txt", "/tmp/three.bin"]);
      expect((await sb.commands.run("cat a/b/one.txt a/two.txt; stat -c %U a/b")).stdout).toBe("12user\n");
      await sb.files.write("/root/secret.txt", "r", { user: "root" });
      expect((await sb.commands.run("stat -c %U /root/secret.txt", { user: "root" })).stdout).toBe("root\n");
      // user may not write into /root, nor outside its writable mounts
      await expect(sb.files.write("/root/nope.txt", "x")).rejects.toThrow();
      await expect(sb.files.write("/usr/bin/evil", "x", { user: "root" })).rejects.toThrow();
    });
  });

  it("list (depth), exists, getInfo, makeDir, rename, remove", async () => {
    await withSandbox(async (sb) => {
      expect(await sb.files.makeDir("/home/user/d/e")).toBe(true);
      expect(await sb.files.makeDir("/home/user/d/e")).toBe(false);
      await sb.files.write("/home/user/d/f.txt", "abc");
      await sb.files.write("/home/user/d/e/g.txt", "x");
      const l1 = await sb.files.list("/home/user/d");
      expect(l1.map((e) => e.name)).toEqual(["e", "f.txt"]);
      expect(l1[0]).toMatchObject({ type: "dir", path: "/home/user/d/e", owner: "user" });
      expect(l1[1]).toMatchObject({ type: "file", size: 3, mode: 0o644, permissions: "-rw-r--r--" });
      const l2 = await sb.files.list("/home/user/d", { depth: 2 });
      expect(l2.map((e) => e.path)).toEqual(["/home/user/d/e", "/home/user/d/e/g.txt", "/home/user/d/f.txt"]);

      expect(await sb.files.exists("/home/user/d/f.txt")).toBe(true);
      expect(await sb.files.exists("/home/user/d/missing")).toBe(false);
      const info = await sb.files.getInfo("/home/user/d/f.txt");
      expect(info).toMatchObject({ name: "f.txt", type: "file", size: 3 });
      expect(info.modifiedTime).toBeInstanceOf(Date);
      await expect(sb.files.getInfo("/home/user/nope")).rejects.toBeInstanceOf(FileNotFoundError);
      await expect(sb.files.read("/home/user/nope")).rejects.toBeInstanceOf(FileNotFoundError);

      const moved = await sb.files.rename("/home/user/d/f.txt", "/home/user/d/e/h.txt");
      expect(moved).toMatchObject({ name: "h.txt", path: "/home/user/d/e/h.txt" });
      expect(await sb.files.read("/home/user/d/e/h.txt")).toBe("abc");
      expect(await sb.files.exists("/home/user/d/f.txt")).toBe(false);

      await sb.files.remove("/home/user/d");
      expect(await sb.files.exists("/home/user/d")).toBe(false);
      expect((await sb.commands.run("ls -A /home/user")).stdout).toBe("");
    });
  });

  it("symlinks resolve inside the sandbox and cannot reach host files", async () => {
    await withSandbox(async (sb) => {
      await sb.files.write("/home/user/real.txt", "real");
      await sb.commands.run(
        "ln -s /home/user/real.txt link.txt; ln -s /work/main/package.json host.json; ln -s ../../../../../../etc/shadow sh; ln -s /proc/1/environ env",
      );
      expect(await sb.files.read("/home/user/link.txt")).toBe("real");
      const info = await sb.files.getInfo("/home/user/link.txt");
      expect(info.symlinkTarget).toBe("/home/user/real.txt");
      // /work does not exist inside the sandbox, so neither does the link's target
      await expect(sb.files.read("/home/user/host.json")).rejects.toBeInstanceOf(FileNotFoundError);
      // /etc/shadow is hidden in the sandbox
      expect(await sb.files.read("/home/user/sh")).toBe("");
      await expect(sb.files.read("/home/user/env")).rejects.toThrow();
      // writes through a link to a read-only place fail
      await expect(sb.files.write("/home/user/host.json", "x")).rejects.toThrow();
      // /etc/passwd is the sandbox's own
      expect(await sb.files.read("/etc/passwd")).toContain("user:x:1000:1000::/home/user:/bin/bash");
    });
  });

  it("watchDir reports creations and writes", async () => {
    await withSandbox(async (sb) => {
      await sb.files.makeDir("/home/user/w");
      const events: FilesystemEvent[] = [];
      const handle = await sb.files.watchDir("/home/user/w", (e) => void events.push(e), { recursive: true });
      try {
        await sb.files.write("/home/user/w/new.txt", "1");
        await sb.commands.run("mkdir -p /home/user/w/sub && echo hi > /home/user/w/sub/deep.txt");
        await new Promise<void>((resolve, reject) => {
          const t = setInterval(() => {
            if (
              events.some((e) => e.name === "new.txt" && e.type === FilesystemEventType.CREATE) &&
              events.some((e) => e.name === "sub/deep.txt")
            ) {
              clearInterval(t);
              resolve();
            }
          }, 50);
          setTimeout(() => {
            clearInterval(t);
            reject(new Error(`no events: ${JSON.stringify(events)}`));
          }, 10_000);
        });
      } finally {
        await handle.stop();
      }
    });
  });
});
