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

  it("rejects a non-JSON content type, naming Content-Type", async () => {
    const res = await call("/api/v1/executions", { key, body: "print(1)", headers: { "Content-Type": "text/plain" } });
    await expectError(res, 400, "invalid_request", "Content-Type: must be application/json");
    // Even when the body is valid JSON: the header is what is wrong.
    const json = JSON.stringify({ language: "python", code: "print(1)" });
    const untyped = await call("/api/v1/executions", { key, body: json, headers: { "Content-Type": "text/plain" } });
    await expectError(untyped, 400, "invalid_request", "Content-Type");
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
    ["a non-string env value", { language: "python", code: "1", envs: { A: 1 } }, "envs.A"],
    // NUL cannot travel in an environment variable (how code reaches the sandbox): once a 502.
    ["a NUL byte in code", { language: "shell", code: "echo a\u0000b" }, "code: must not contain NUL"],
    [
      "a NUL byte in an env value",
      { language: "shell", code: "env", envs: { A: "x\u0000y" } },
      "envs.A: must not contain NUL",
    ],
    ["envs of the wrong type", { language: "python", code: "1", envs: ["A=1"] }, "envs"],
    ["a fractional timeout", { language: "python", code: "1", timeoutMs: 1.5 }, "timeoutMs"],
    ["a timeout given as a string", { language: "python", code: "1", timeoutMs: "1000" }, "timeoutMs"],
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
    await expectError(res, 413, "payload_too_large", "body must be at most 1048576 bytes");
  });

  it("rejects a JSON body that is not an object", async () => {
    for (const body of ["null", "[]", '"code"', "42"]) {
      const res = await call("/api/v1/executions", { key, body, headers: { "Content-Type": "application/json" } });
      await expectError(res, 400, "invalid_request", "body");
    }
  });
});

describe("GET /api/v1/executions input", () => {
  it("rejects a bad limit, status or cursor", async () => {
    await expectError(await call("/api/v1/executions?limit=0", { key }), 400, "invalid_request", "limit");
    await expectError(await call("/api/v1/executions?status=weird", { key }), 400, "invalid_request", "status");
    await expectError(await call("/api/v1/executions?cursor=%%%", { key }), 400, "invalid_request", "cursor");
  });

  it("rejects a limit that is not a whole number in range", async () => {
    for (const limit of ["abc", "1.5", "-1", "101", "1e999", ""]) {
      await expectError(await call(`/api/v1/executions?limit=${limit}`, { key }), 400, "invalid_request", "limit");
    }
  });

  it("answers 404 for an unknown execution", async () => {
    await expectError(await call("/api/v1/executions/exe_missing", { key }), 404, "not_found", "exe_missing");
  });
});
