// Artifacts: the per-run manifest of created / modified / deleted files, downloads, keeping them in R2
// under the quota, and who may reach them.
import { beforeAll, describe, expect, it } from "vitest";
import { call, createUser, execute } from "./helpers.ts";

type Key = { id: string; apiKey: string };

async function put(key: string, conversationId: string, path: string, body: string): Promise<void> {
  const res = await call(`/api/v1/sandboxes/${conversationId}/file?path=${encodeURIComponent(path)}`, {
    key,
    method: "PUT",
    body,
  });
  if (res.status !== 200 && res.status !== 201) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
}

describe("artifact manifest", () => {
  let alice: Key;
  beforeAll(async () => {
    alice = await createUser("artifacts-a");
  });

  it("lists exactly the files a run created, modified and deleted", async () => {
    const conversationId = "manifest";
    await put(alice.apiKey, conversationId, "data.txt", "one\n");
    await put(alice.apiKey, conversationId, "old.txt", "old\n");
    await put(alice.apiKey, conversationId, "untouched.txt", "same\n");
    const { res, json } = await execute(alice.apiKey, {
      language: "python",
      conversationId,
      artifacts: true,
      code: [
        "import os",
        "open('out.csv', 'w').write('a,b\\n1,2\\n')",
        "open('data.txt', 'a').write('two\\n')",
        "os.remove('old.txt')",
        "os.makedirs('__pycache__', exist_ok=True)",
        "open('__pycache__/x.pyc', 'w').write('cache')",
      ].join("\n"),
    });
    expect(res.status).toBe(200);
    expect(json.status).toBe("succeeded");
    expect(json.artifacts).toEqual([
      { path: "data.txt", size: 8, change: "modified" },
      { path: "old.txt", size: 0, change: "deleted" },
      { path: "out.csv", size: 8, change: "created" },
    ]);
    expect(json.artifactsTruncated).toBeUndefined();
    // History carries the same manifest.
    const history = await call(`/api/v1/executions/${json.id}`, { key: alice.apiKey });
    expect(((await history.json()) as { artifacts: unknown }).artifacts).toEqual(json.artifacts);
  });

  it("cuts the manifest at 100 entries and says so", async () => {
    const { json } = await execute(alice.apiKey, {
      language: "shell",
      conversationId: "many",
      artifacts: true,
      code: "mkdir -p many && for i in $(seq 1 150); do echo $i > many/f$i.txt; done",
    });
    expect(json.status).toBe("succeeded");
    expect(json.artifacts).toHaveLength(100);
    expect(json.artifactsTruncated).toBe(true);
  });

  it("lists a stateful run's files too", async () => {
    const { json } = await execute(alice.apiKey, {
      language: "python",
      conversationId: "manifest-nb",
      stateful: true,
      artifacts: true,
      code: "open('chart.txt', 'w').write('xyz')",
    });
    expect(json.status).toBe("succeeded");
    expect(json.artifacts).toEqual([{ path: "chart.txt", size: 3, change: "created" }]);
  });
});
