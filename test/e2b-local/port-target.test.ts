// Which requests e2b-local relays to a port inside a sandbox (ports.ts portTarget), no sandbox needed:
// the header form the SDKs send with a sandbox URL, the host form, and envd's own port left to envd.
import { describe, expect, it } from "vitest";
import type { IncomingMessage } from "node:http";
import { ENVD_PORT, portTarget } from "e2b-local/ports";

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe("portTarget", () => {
  it("reads E2b-Sandbox-Id + E2b-Sandbox-Port", () => {
    expect(portTarget(req({ "e2b-sandbox-id": "abc", "e2b-sandbox-port": "49999" }))).toEqual({
      sandboxId: "abc",
      port: 49999,
    });
  });

  it("leaves envd's port, requests without a port header and API calls alone", () => {
    expect(portTarget(req({ "e2b-sandbox-id": "abc", "e2b-sandbox-port": String(ENVD_PORT) }))).toBeNull();
    expect(portTarget(req({ "e2b-sandbox-id": "abc" }))).toBeNull();
    expect(portTarget(req({ host: "127.0.0.1:49982" }))).toBeNull();
    expect(portTarget(req({ host: `${ENVD_PORT}-abc.e2b.local` }))).toBeNull();
  });

  it("reads the host form <port>-<sandboxId>.<domain>", () => {
    expect(portTarget(req({ host: "3000-i0abc9.e2b.local:49982" }))).toEqual({ sandboxId: "i0abc9", port: 3000 });
  });

  it.each(["0", "65536", "-1", "80x", ""])("marks a bad port %j as -1 (a 400, never a default port)", (p) => {
    expect(portTarget(req({ "e2b-sandbox-id": "abc", "e2b-sandbox-port": p }))?.port).toBe(-1);
  });
});
