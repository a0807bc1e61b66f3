import { describe, expect, it } from "vitest";
import { conn, withSandbox } from "./helpers.ts";

describe("envd protocol edges", () => {
  it("malformed envd requests get Connect errors, and the server keeps serving", async () => {
    await withSandbox(async (sb) => {
      const url = conn().sandboxUrl as string;
      const token = (sb as unknown as { envdAccessToken: string }).envdAccessToken;
      const h = { "E2b-Sandbox-Id": sb.sandboxId, "X-Access-Token": token, "Connect-Protocol-Version": "1" };
      // unary with a broken JSON body
      let r = await fetch(`${url}/filesystem.Filesystem/Stat`, { method: "POST", headers: { ...h, "content-type": "application/json" }, body: "{" });
      expect(r.status).toBe(400);
      expect(await r.json()).toMatchObject({ code: "invalid_argument" });
      // stream with a truncated envelope: 200 + end-stream error frame
      r = await fetch(`${url}/process.Process/Start`, { method: "POST", headers: { ...h, "content-type": "application/connect+json" }, body: new Uint8Array([0, 0, 0, 0, 50, 123]) });
      expect(r.status).toBe(200);
      const buf = Buffer.from(await r.arrayBuffer());
      expect(buf[0]).toBe(2);
      expect(JSON.parse(buf.subarray(5).toString())).toMatchObject({ error: { code: "invalid_argument" } });
      // unknown user
      r = await fetch(`${url}/process.Process/List`, { method: "POST", headers: { ...h, "content-type": "application/json", Authorization: "Basic " + btoa("mallory:") }, body: "{}" });
      expect(await r.json()).toMatchObject({ code: "unauthenticated" });
      // unknown sandbox: 502 with the gone shape
      r = await fetch(`${url}/health`, { headers: { "E2b-Sandbox-Id": "nosuchsandbox" } });
      expect(r.status).toBe(502);
      expect(await r.json()).toMatchObject({ code: 502, sandboxId: "nosuchsandbox" });
      // /files errors
      r = await fetch(`${url}/files?path=/home/user`, { headers: h });
      expect(r.status).toBe(400);
      r = await fetch(`${url}/files?path=/home/user/missing`, { headers: h });
      expect(r.status).toBe(404);
      expect(await r.json()).toMatchObject({ code: 404 });
      expect((await sb.commands.run("echo still fine")).stdout).toBe("still fine\n");
    });
  });
});
