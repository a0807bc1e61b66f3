// The type a volume file is served with: the client's, or inferred from the name when none was really given.
import { describe, expect, it } from "vitest";
import { call, createUser } from "./helpers.ts";
import { fileUrl } from "./volume-helpers.ts";

describe("volume file types", () => {
  it("stores curl's default form type as the name's type, and keeps a chosen one", async () => {
    const { apiKey } = await createUser("types");
    const json = '{"ok":true}';
    // What `curl --data-binary @run.json` sends when no Content-Type is given.
    const put = await call(fileUrl("results/run.json"), {
      key: apiKey,
      method: "PUT",
      body: json,
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(put.status).toBe(201);
    const got = await call(fileUrl("results/run.json"), { key: apiKey });
    expect(got.headers.get("Content-Type")).toBe("application/json");
    expect(await got.text()).toBe(json);

    await call(fileUrl("notes.json"), {
      key: apiKey,
      method: "PUT",
      body: "plain words",
      headers: { "Content-Type": "text/plain" },
    });
    const chosen = await call(fileUrl("notes.json"), { key: apiKey });
    expect(chosen.headers.get("Content-Type")).toBe("text/plain");
    await chosen.body?.cancel();

    const listing = (await (await call("/api/v1/volume/files", { key: apiKey })).json()) as {
      items: { name: string; contentType: string | null }[];
    };
    expect(listing.items.find((item) => item.name === "results/run.json")?.contentType).toBe("application/json");
  });

  it("a file persisted from a sandbox gets its name's type", async () => {
    const { apiKey } = await createUser("types-persist");
    const write = await call("/api/v1/sandboxes/types/file?path=out.csv", {
      key: apiKey,
      method: "PUT",
      body: "a,b\n",
    });
    expect(write.status).toBeLessThan(300);
    const persisted = await call("/api/v1/sandboxes/types/files/persist", {
      key: apiKey,
      json: { path: "out.csv", name: "tables/out.csv" },
    });
    expect(persisted.status).toBe(201);
    const got = await call(fileUrl("tables/out.csv"), { key: apiKey });
    expect(got.headers.get("Content-Type")).toBe("text/csv; charset=utf-8");
    expect(await got.text()).toBe("a,b\n");
    await call("/api/v1/sandboxes/types", { key: apiKey, method: "DELETE" });
  });
});
