import { describe, expect, inject, it } from "vitest";
import { Sandbox } from "e2b";

const opts = () => ({ apiUrl: inject("e2bLocalUrl"), sandboxUrl: inject("e2bLocalUrl"), apiKey: inject("e2bLocalApiKey") });

describe("core", () => {
  it("creates a sandbox and runs a command", async () => {
    const sb = await Sandbox.create(opts());
    try {
      const r = await sb.commands.run("echo hello; id -un");
      expect(r.stdout).toBe("hello\nuser\n");
      expect(r.exitCode).toBe(0);
    } finally {
      await sb.kill();
    }
  });
});
