// Sandbox files the user may not touch are 403 forbidden (not a 502 that blames the sandbox), and file
// reads are downloads that a browser never renders or sniffs.
import { beforeAll, describe, expect, it } from "vitest";
import { call, createUser, type ErrorBody, execute } from "./helpers.ts";

const conversation = "perm";
const file = (path: string) => `/api/v1/sandboxes/${conversation}/file?path=${encodeURIComponent(path)}`;
const files = (path: string) => `/api/v1/sandboxes/${conversation}/files?path=${encodeURIComponent(path)}`;

let key: string;
beforeAll(async () => {
  key = (await createUser("sandbox-perm")).apiKey;
  // A folder and a file the sandbox user locked itself out of, and a link into a read-only system folder.
  const setup = await execute(key, {
    language: "shell",
    conversationId: conversation,
    code: "mkdir -p locked && chmod 000 locked && echo secret > closed.txt && chmod 000 closed.txt && ln -s /usr/lib lib && echo '<script>alert(1)</script>' > page.html",
  });
  expect(setup.json.status).toBe("succeeded");
});

async function expectForbidden(res: Response, path: string) {
  expect(res.status, path).toBe(403);
  const body = await res.json<ErrorBody>();
  expect(body.error.code).toBe("forbidden");
  expect(body.error.message).toContain(`permission denied for '${path}'`);
  expect(body.error.requestId).toBeTruthy();
}

describe("sandbox permission errors", () => {
  it("answers listing a folder the user may not read with 403", async () => {
    await expectForbidden(await call(files("locked"), { key }), "/home/user/locked");
    await expectForbidden(await call(files("/root"), { key }), "/root");
  });

  it("answers reading a file the user may not read with 403", async () => {
    await expectForbidden(await call(file("closed.txt"), { key }), "/home/user/closed.txt");
  });

  it("answers writing through a symlink into a read-only folder with 403", async () => {
    await expectForbidden(
      await call(file("lib/planted.so"), { key, method: "PUT", body: "x" }),
      "/home/user/lib/planted.so",
    );
    await expectForbidden(
      await call(file("locked/x.txt"), { key, method: "PUT", body: "x" }),
      "/home/user/locked/x.txt",
    );
  });
});

describe("sandbox file reads", () => {
  it("are attachments of type octet-stream, never sniffed, whatever the file holds", async () => {
    const res = await call(file("page.html"), { key });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("application/octet-stream");
    expect(res.headers.get("Content-Disposition")).toBe("attachment; filename*=UTF-8''page.html");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Content-Security-Policy")).toContain("sandbox");
    expect(new TextDecoder().decode(await res.arrayBuffer())).toContain("<script>");
  });
});

describe("sandbox paths", () => {
  it("refuses a path with a lone surrogate (once a 502 'URI malformed'; found by fuzz-routes)", async () => {
    const res = await call(`/api/v1/sandboxes/${conversation}/files/persist`, {
      key,
      json: { path: "a\ud800b", name: "x.txt" },
    });
    expect(res.status).toBe(400);
    const body = await res.json<ErrorBody>();
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.message).toContain("path: must be valid Unicode (no lone surrogates)");
  });
});
