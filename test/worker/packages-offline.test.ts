// Package installs from a registry when sandboxes have no internet access (the default): refused at
// once with a message that says why and what works instead, before any sandbox is started.
import { describe, expect, it } from "vitest";
import { call, createUser, type ErrorBody } from "./helpers.ts";

describe("registry installs without internet access", () => {
  it("are a clear 400 at once, naming the packages, the registry and the way out", async () => {
    const { apiKey } = await createUser("offline-installs");
    const pip = await call("/api/v1/sandboxes/offline/packages", {
      key: apiKey,
      json: { manager: "pip", packages: ["requests>=2.31", "./dist/local.whl"] },
    });
    expect(pip.status).toBe(400);
    const error = ((await pip.json()) as ErrorBody).error;
    expect(error.code).toBe("invalid_request");
    expect(error.message).toBe(
      `packages: 'requests>=2.31' would come from PyPI, but sandboxes have no internet access here (SANDBOX_INTERNET_ACCESS is not "true"). Install a file or folder already in the sandbox instead (e.g. './dist/pkg.whl' or './my-package'), or ask the operator to enable internet access.`,
    );

    const npm = await call("/api/v1/sandboxes/offline/packages", {
      key: apiKey,
      json: { manager: "npm", packages: ["left-pad@1.3.0", "@scope/tool"] },
    });
    expect(npm.status).toBe(400);
    expect(((await npm.json()) as ErrorBody).error.message).toMatch(
      /^packages: 'left-pad@1\.3\.0', '@scope\/tool' would come from the npm registry, but sandboxes have no internet access/,
    );

    // Refused before anything started: the conversation still has no sandbox.
    expect((await call("/api/v1/sandboxes/offline", { key: apiKey })).status).toBe(404);
  });
});
