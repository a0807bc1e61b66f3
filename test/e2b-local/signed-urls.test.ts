// Signed /files URLs (downloadUrl / uploadUrl) through the unmodified SDK, fetched with no token and
// no sandbox header: valid, expired, tampered and other-sandbox signatures, as `user` and `root`.
import { describe, expect, it } from "vitest";
import { Sandbox } from "e2b";
import { conn, withSandbox } from "./helpers.ts";

describe("signed URLs", () => {
  it("downloadUrl reads the file as user and root, with or without an expiration", async () => {
    await withSandbox(
      async (sb) => {
        await sb.files.write("hello.txt", "hello world");
        await sb.files.write("/root/secret.txt", "root only", { user: "root" });
        await sb.commands.run("chmod 600 /root/secret.txt", { user: "root" });
        const plain = await sb.downloadUrl("hello.txt");
        expect(new URL(plain).searchParams.get("signature")).toMatch(/^v1_/);
        let res = await fetch(plain);
        expect(res.status).toBe(200);
        expect(await res.text()).toBe("hello world");
        res = await fetch(await sb.downloadUrl("hello.txt", { useSignatureExpiration: 10_000 }));
        expect(await res.text()).toBe("hello world");
        res = await fetch(await sb.downloadUrl("secret.txt", { user: "root", useSignatureExpiration: 10_000 }));
        expect(res.status).toBe(200);
        expect(await res.text()).toBe("root only");
        // as user, root's file is not readable even with a valid signature
        res = await fetch(await sb.downloadUrl("/root/secret.txt"));
        expect(res.status).toBe(403);
      },
      { secure: true },
    );
  });

  it("uploadUrl writes the file as user and root", async () => {
    await withSandbox(async (sb) => {
      for (const [user, home] of [
        [undefined, "/home/user"],
        ["root", "/root"],
      ] as const) {
        const url = await sb.uploadUrl("up.txt", { user, useSignatureExpiration: 10_000 });
        const form = new FormData();
        form.append("file", "file content");
        const res = await fetch(url, { method: "POST", body: form });
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual([{ name: "up.txt", path: `${home}/up.txt`, type: "file" }]);
        const owner = await sb.commands.run(`stat -c %U ${home}/up.txt`, { user: "root" });
        expect(owner.stdout.trim()).toBe(user ?? "user");
        expect(await sb.files.read(`${home}/up.txt`, { user: "root" })).toBe("file content");
      }
    });
  });

  it("an expired signature is 401 'signature is already expired'", async () => {
    await withSandbox(async (sb) => {
      await sb.files.write("hello.txt", "hello world");
      let res = await fetch(await sb.downloadUrl("hello.txt", { useSignatureExpiration: -10_000 }));
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ code: 401, message: "signature is already expired" });
      const form = new FormData();
      form.append("file", "x");
      res = await fetch(await sb.uploadUrl("new.txt", { useSignatureExpiration: -100_000 }), {
        method: "POST",
        body: form,
      });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ code: 401, message: "signature is already expired" });
      expect(await sb.files.exists("new.txt")).toBe(false);
    });
  });

  it("a tampered URL (path, user, operation, expiration, signature) or another sandbox's is refused", async () => {
    await withSandbox(async (sb) => {
      const other = await Sandbox.create(conn());
      try {
        await sb.files.write("hello.txt", "hello world");
        await sb.files.write("other.txt", "not signed");
        const url = new URL(await sb.downloadUrl("hello.txt", { useSignatureExpiration: 10_000 }));
        const tamper = async (edit: (u: URL) => void, init?: RequestInit) => {
          const u = new URL(url);
          edit(u);
          const res = await fetch(u, init);
          return { status: res.status, body: await res.json() };
        };
        const refused = { status: 401, body: { code: 401, message: "invalid signature" } };
        expect(await tamper((u) => u.searchParams.set("path", "other.txt"))).toEqual(refused);
        expect(await tamper((u) => u.searchParams.set("username", "root"))).toEqual(refused);
        const exp = Number(url.searchParams.get("signature_expiration"));
        expect(await tamper((u) => u.searchParams.set("signature_expiration", String(exp + 3600)))).toEqual(refused);
        expect(await tamper((u) => u.searchParams.delete("signature_expiration"))).toEqual(refused);
        expect(
          await tamper((u) => u.searchParams.set("signature", `${u.searchParams.get("signature")!.slice(0, -2)}AA`)),
        ).toEqual(refused);
        // a read signature does not allow a write
        const form = new FormData();
        form.append("file", "overwritten");
        expect(await tamper(() => {}, { method: "POST", body: form })).toEqual(refused);
        expect(await sb.files.read("hello.txt")).toBe("hello world");
        // the other sandbox's signature for the same path reads the other sandbox's file
        await other.files.write("hello.txt", "from the other sandbox");
        const theirs = await fetch(await other.downloadUrl("hello.txt"));
        expect(await theirs.text()).toBe("from the other sandbox");
        // and with E2b-Sandbox-Id naming this sandbox it is refused
        const cross = await fetch(await other.downloadUrl("hello.txt"), {
          headers: { "E2b-Sandbox-Id": sb.sandboxId, "E2b-Sandbox-Port": "49983" },
        });
        expect(cross.status).toBe(401);
        // no signature at all, no token: refused
        const bare = await fetch(`${conn().sandboxUrl}/files?path=hello.txt`, {
          headers: { "E2b-Sandbox-Id": sb.sandboxId, "E2b-Sandbox-Port": "49983" },
        });
        expect(bare.status).toBe(401);
      } finally {
        await other.kill();
      }
    });
  });
});
