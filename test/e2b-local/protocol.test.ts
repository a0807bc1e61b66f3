import { describe, expect, it } from "vitest";
import { conn, withSandbox } from "./helpers.ts";

describe("envd protocol edges", () => {
  it("malformed envd requests get Connect errors, and the server keeps serving", async () => {
    await withSandbox(async (sb) => {
      const url = conn().sandboxUrl as string;
      const token = (sb as unknown as { envdAccessToken: string }).envdAccessToken;
      const h = { "E2b-Sandbox-Id": sb.sandboxId, "X-Access-Token": token, "Connect-Protocol-Version": "1" };
      // unary with a broken JSON body
      let r = await fetch(`${url}/filesystem.Filesystem/Stat`, {
        method: "POST",
        headers: { ...h, "content-type": "application/json" },
        body: "{",
      });
      expect(r.status).toBe(400);
      expect(await r.json()).toMatchObject({ code: "invalid_argument" });
      // stream with a truncated envelope: 200 + end-stream error frame
      r = await fetch(`${url}/process.Process/Start`, {
        method: "POST",
        headers: { ...h, "content-type": "application/connect+json" },
        body: new Uint8Array([0, 0, 0, 0, 50, 123]),
      });
      expect(r.status).toBe(200);
      const buf = Buffer.from(await r.arrayBuffer());
      expect(buf[0]).toBe(2);
      expect(JSON.parse(buf.subarray(5).toString())).toMatchObject({ error: { code: "invalid_argument" } });
      // unknown user
      r = await fetch(`${url}/process.Process/List`, {
        method: "POST",
        headers: { ...h, "content-type": "application/json", Authorization: `Basic ${btoa("mallory:")}` },
        body: "{}",
      });
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
  it("a Start stream: headers with the start frame, then the end message and the end-stream frame; a failed spawn is one error frame", async () => {
    await withSandbox(async (sb) => {
      const url = conn().sandboxUrl as string;
      const token = (sb as unknown as { envdAccessToken: string }).envdAccessToken;
      const h = {
        "E2b-Sandbox-Id": sb.sandboxId,
        "X-Access-Token": token,
        "content-type": "application/connect+json",
        Authorization: `Basic ${btoa("user:")}`,
      };
      const frames = (buf: Buffer) => {
        const out: Array<{ flags: number; msg: any }> = [];
        for (let i = 0; i < buf.length; ) {
          const len = buf.readUInt32BE(i + 1);
          out.push({ flags: buf[i]!, msg: JSON.parse(buf.subarray(i + 5, i + 5 + len).toString()) });
          i += 5 + len;
        }
        return out;
      };
      const start = async (process: object) => {
        const json = Buffer.from(JSON.stringify({ process }));
        const body = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), json]);
        body.writeUInt32BE(json.length, 1);
        const r = await fetch(`${url}/process.Process/Start`, { method: "POST", headers: h, body });
        expect(r.status).toBe(200);
        expect(r.headers.get("content-type")).toBe("application/connect+json");
        return frames(Buffer.from(await r.arrayBuffer()));
      };
      const ok = await start({ cmd: "/bin/bash", args: ["-c", "echo hi; exit 3"] });
      expect(ok[0]!.msg.event.start.pid).toBeGreaterThan(0);
      expect(ok.at(-2)!.msg.event.end).toMatchObject({ exitCode: 3, exited: true });
      expect(ok.at(-1)).toEqual({ flags: 2, msg: {} });
      expect(
        Buffer.from(
          ok
            .filter((f) => f.msg.event?.data)
            .map((f) => f.msg.event.data.stdout)
            .join(""),
          "base64",
        ).toString(),
      ).toBe("hi\n");
      const bad = await start({ cmd: "/bin/true", cwd: "/home/user/no-such-dir" });
      expect(bad).toHaveLength(1);
      expect(bad[0]).toMatchObject({ flags: 2, msg: { error: { code: "invalid_argument" } } });
      expect((await sb.commands.list()).length).toBe(0);
    });
  });
});
