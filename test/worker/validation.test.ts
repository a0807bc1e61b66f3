// Bad input never reaches a sandbox: 400/413 with a message naming the field, never a 500.
import { beforeAll, describe, expect, it } from "vitest";
import { call, createUser, type ErrorBody } from "./helpers.ts";

let key: string;
beforeAll(async () => {
  key = (await createUser("validation")).apiKey;
});

async function expectError(res: Response, status: number, code: string, mentions: string) {
  expect(res.status).toBe(status);
  const body = await res.json<ErrorBody>();
  expect(body.error.code).toBe(code);
  expect(body.error.message).toContain(mentions);
  expect(body.error.requestId).toBeTruthy();
  expect(JSON.stringify(body)).not.toMatch(/\bat .*\.ts:\d+/);
}

describe("POST /api/v1/executions input", () => {
  it("rejects malformed JSON", async () => {
    const res = await call("/api/v1/executions", {
      key,
      body: "{nope",
      headers: { "Content-Type": "application/json" },
    });
    await expectError(res, 400, "invalid_request", "JSON");
  });

  it("rejects a non-JSON content type", async () => {
    const res = await call("/api/v1/executions", { key, body: "print(1)", headers: { "Content-Type": "text/plain" } });
    expect(res.status).toBe(400);
  });

  const cases: [string, Record<string, unknown>, string][] = [
    ["an unknown language", { language: "ruby", code: "puts 1" }, "language"],
    ["a missing language", { code: "1" }, "language"],
    ["empty code", { language: "python", code: "" }, "code"],
    ["code of the wrong type", { language: "python", code: 42 }, "code"],
    ["a bad conversationId", { language: "python", code: "1", conversationId: "../etc" }, "conversationId"],
    ["a negative timeout", { language: "python", code: "1", timeoutMs: -5 }, "timeoutMs"],
    ["a timeout over the limit", { language: "python", code: "1", timeoutMs: 10_000_000 }, "timeoutMs"],
    ["a bad env name", { language: "python", code: "1", envs: { "A-B": "x" } }, "envs"],
    ["a non-string env value", { language: "python", code: "1", envs: { A: 1 } }, "envs"],
  ];
  for (const [what, body, field] of cases) {
    it(`rejects ${what}`, async () => {
      await expectError(await call("/api/v1/executions", { key, json: body }), 400, "invalid_request", field);
    });
  }

  it("rejects code over 256 KiB with 413", async () => {
    const res = await call("/api/v1/executions", {
      key,
      json: { language: "python", code: "#".repeat(256 * 1024 + 1) },
    });
    await expectError(res, 413, "payload_too_large", "code");
  });

  it("rejects a body over the JSON limit with 413", async () => {
    const res = await call("/api/v1/executions", {
      key,
      json: { language: "python", code: "#".repeat(2 * 1024 * 1024) },
    });
    expect(res.status).toBe(413);
  });
});

describe("GET /api/v1/executions input", () => {
  it("rejects a bad limit, status or cursor", async () => {
    await expectError(await call("/api/v1/executions?limit=0", { key }), 400, "invalid_request", "limit");
    await expectError(await call("/api/v1/executions?status=weird", { key }), 400, "invalid_request", "status");
    await expectError(await call("/api/v1/executions?cursor=%%%", { key }), 400, "invalid_request", "cursor");
  });

  it("answers 404 for an unknown execution", async () => {
    await expectError(await call("/api/v1/executions/exe_missing", { key }), 404, "not_found", "exe_missing");
  });
});
