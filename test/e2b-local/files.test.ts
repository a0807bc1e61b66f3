// The Files API through the SDK: reads and writes (text, bytes, streams, gzip), listings, moves and
// removal, symlinks that stay inside the sandbox's view, and directory watching.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "node:http";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { FileNotFoundError, FilesystemEventType, type FilesystemEvent } from "e2b";
import { conn, withSandbox } from "./helpers.ts";

/** GET without any decoding: the bytes as they came over the wire. */
function rawGet(url: string, headers: Record<string, string>) {
  return new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    })
      .on("error", reject)
      .end();
  });
}

// A host file for the symlink test, made here (a fixed path could be missing elsewhere and pass trivially).
let canary = "";
beforeAll(async () => {
  canary = join(await mkdtemp(join(tmpdir(), "e2b-canary-")), "host.json");
  await writeFile(canary, '{"host": true}');
});
afterAll(() => rm(join(canary, ".."), { recursive: true, force: true }));

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
      // gzip in both directions, through the SDK
      expect(Array.from(await sb.files.read("/tmp/bin.dat", { format: "bytes", gzip: true }))).toEqual(
        Array.from(bytes),
      );
      await sb.files.write("/tmp/gz.txt", "compressed body", { gzip: true });
      expect(await sb.files.read("/tmp/gz.txt")).toBe("compressed body");
      // and on the wire: a download asked for gzip is gzip bytes, an upload sent gzipped is stored unpacked
      const token = (sb as unknown as { envdAccessToken: string }).envdAccessToken;
      const headers = { "E2b-Sandbox-Id": sb.sandboxId, "X-Access-Token": token };
      const raw = await rawGet(`${conn().sandboxUrl}/files?path=/tmp/bin.dat`, {
        ...headers,
        "Accept-Encoding": "gzip",
      });
      expect(raw.headers["content-encoding"]).toBe("gzip");
      expect([...raw.body.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
      expect(Array.from(gunzipSync(raw.body))).toEqual(Array.from(bytes));
      const up = await fetch(`${conn().sandboxUrl}/files?path=/tmp/gz2.txt`, {
        method: "POST",
        headers: { ...headers, "Content-Type": "application/octet-stream", "Content-Encoding": "gzip" },
        body: gzipSync("sent gzipped"),
      });
      expect(up.status).toBe(200);
      expect(await sb.files.read("/tmp/gz2.txt")).toBe("sent gzipped");
      // empty file
      await sb.files.write("/tmp/empty", "");
      expect(await sb.files.read("/tmp/empty")).toBe("");
      // a file written by a command is read back
      await sb.commands.run("printf 'from cmd' > /tmp/c.txt");
      expect(await sb.files.read("/tmp/c.txt")).toBe("from cmd");
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
      await expect(sb.files.write("/root/nope.txt", "x")).rejects.toThrow("403: permission denied: '/root'");
      await expect(sb.files.write("/usr/bin/evil", "x", { user: "root" })).rejects.toThrow(
        "403: cannot write '/usr/bin/evil': read-only file system",
      );
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
        `ln -s /home/user/real.txt link.txt; ln -s ${canary} host.json; ln -s ../../../../../../etc/shadow sh; ln -s /proc/1/environ env`,
      );
      expect(existsSync(canary)).toBe(true);
      expect(await sb.files.read("/home/user/link.txt")).toBe("real");
      const info = await sb.files.getInfo("/home/user/link.txt");
      expect(info.symlinkTarget).toBe("/home/user/real.txt");
      // the host file is not in the sandbox's view (its /tmp is its own), so the link leads nowhere
      await expect(sb.files.read("/home/user/host.json")).rejects.toBeInstanceOf(FileNotFoundError);
      // /etc/shadow is hidden in the sandbox
      expect(await sb.files.read("/home/user/sh")).toBe("");
      await expect(sb.files.read("/home/user/env")).rejects.toBeInstanceOf(FileNotFoundError);
      // a write through it lands in the sandbox's own /tmp; the host file is untouched
      await sb.files.write("/home/user/host.json", "x");
      expect(await sb.files.read(canary)).toBe("x");
      expect(await readFile(canary, "utf8")).toBe('{"host": true}');
      // writes through a link to a read-only place fail
      await sb.commands.run("ln -s /usr/bin/e2b-not-there ro-link");
      await expect(sb.files.write("/home/user/ro-link", "x")).rejects.toThrow(
        "403: cannot write '/home/user/ro-link': read-only file system",
      );
      // /etc/passwd is the sandbox's own
      expect(await sb.files.read("/etc/passwd")).toContain("user:x:1000:1000::/home/user:/bin/bash");
    });
  });

  it("a directory the user cannot search hides what is under it, as the kernel does", async () => {
    await withSandbox(async (sb) => {
      // world-readable, but under root's 0700 home
      await sb.commands.run("echo secret > /root/open.txt && chmod 644 /root/open.txt && mkdir -p /root/d", {
        user: "root",
      });
      expect((await sb.commands.run("cat /root/open.txt", { user: "user" }).catch((e) => e)).exitCode).toBe(1);
      await expect(sb.files.read("/root/open.txt")).rejects.toThrow(/permission denied: '\/root'/);
      await expect(sb.files.getInfo("/root/open.txt")).rejects.toThrow(/permission denied/);
      await expect(sb.files.write("/root/d/new.txt", "x")).rejects.toThrow(/permission denied/);
      await expect(sb.files.remove("/root/open.txt")).rejects.toThrow(/permission denied/);
      // root still may
      expect(await sb.files.read("/root/open.txt", { user: "root" })).toBe("secret\n");
      expect((await sb.files.getInfo("/root/open.txt", { user: "root" })).name).toBe("open.txt");
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
