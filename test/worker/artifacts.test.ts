// Artifacts: the per-run manifest of created / modified / deleted files, downloads, keeping them in R2
// under the quota, and who may reach them.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createUser, type ErrorBody, execute } from "./helpers.ts";
import { MiB, put as putVolume, sized, usage } from "./volume-helpers.ts";

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

function artifactUrl(id: string, path: string): string {
  return `/api/v1/executions/${id}/artifacts/${path.split("/").map(encodeURIComponent).join("/")}`;
}

describe("artifact downloads and keeping", () => {
  let alice: Key;
  let bob: Key;
  beforeAll(async () => {
    alice = await createUser("artifacts-keep-a");
    bob = await createUser("artifacts-keep-b");
  });

  it("downloads an artifact's bytes from the live sandbox, and only listed ones", async () => {
    const { json } = await execute(alice.apiKey, {
      language: "shell",
      conversationId: "dl",
      artifacts: true,
      code: "mkdir -p res && printf 'x,y\\n1,2\\n' > 'res/my file.csv' && echo hidden > .secret-unlisted-before; rm -f gone.txt",
    });
    expect(json.status).toBe("succeeded");
    const res = await call(artifactUrl(json.id, "res/my file.csv"), { key: alice.apiKey });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toContain("text/csv");
    expect(await res.text()).toBe("x,y\n1,2\n");
    // Not in the manifest: refused even though the sandbox has it.
    const unlisted = await call(artifactUrl(json.id, "../../etc/passwd"), { key: alice.apiKey });
    expect(unlisted.status).toBe(404);
    const other = await call(artifactUrl(json.id, "nope.txt"), { key: alice.apiKey });
    expect(other.status).toBe(404);
    expect((await other.json<ErrorBody>()).error.code).toBe("not_found");
  });

  it("keeps artifacts in R2 under the quota, so they outlive the sandbox", async () => {
    const before = (await usage(alice.apiKey)).usedBytes;
    const { json } = await execute(alice.apiKey, {
      language: "python",
      conversationId: "keep",
      keepArtifacts: true,
      code: "open('report.txt', 'w').write('kept bytes')\nopen('big.bin', 'wb').write(b'z' * 5000)",
    });
    expect(json.status).toBe("succeeded");
    expect(json.kept).toEqual({ artifacts: 2, bytes: 5010 });
    expect(await env.VOLUMES.head(`artifacts/${alice.id}/${json.id}/report.txt`)).not.toBeNull();
    expect((await usage(alice.apiKey)).usedBytes).toBe(before + 5010);
    // Kept artifacts are not volume files.
    const listing = await call("/api/v1/volume/files", { key: alice.apiKey });
    expect(JSON.stringify(await listing.json())).not.toContain("report.txt");
    expect((await call("/api/v1/sandboxes/keep", { key: alice.apiKey, method: "DELETE" })).status).toBe(204);
    const res = await call(artifactUrl(json.id, "report.txt"), { key: alice.apiKey });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("kept bytes");
    // Bob can neither download nor keep Alice's artifacts: her execution is a 404 to him.
    expect((await call(artifactUrl(json.id, "report.txt"), { key: bob.apiKey })).status).toBe(404);
    const bobKeep = await call(`/api/v1/executions/${json.id}/artifacts/keep`, { key: bob.apiKey, method: "POST" });
    expect(bobKeep.status).toBe(404);
  });

  it("keeps afterwards while the sandbox lives; over quota it is 507 and nothing is kept", async () => {
    const carol = await createUser("artifacts-quota");
    const { json } = await execute(carol.apiKey, {
      language: "shell",
      conversationId: "later",
      artifacts: true,
      code: "head -c 3000 /dev/zero > a.bin && head -c 3000 /dev/zero > b.bin",
    });
    expect(json.artifacts).toHaveLength(2);
    // The volume is nearly full: 4000 bytes left, the two artifacts need 6000.
    expect((await putVolume(carol.apiKey, "filler.bin", sized(100 * MiB - 4000))).status).toBe(201);
    const keep = () => call(`/api/v1/executions/${json.id}/artifacts/keep`, { key: carol.apiKey, method: "POST" });
    const refused = await keep();
    expect(refused.status).toBe(507);
    expect((await refused.json<ErrorBody>()).error.code).toBe("quota_exceeded");
    const listed = await env.VOLUMES.list({ prefix: `artifacts/${carol.id}/` });
    expect(listed.objects).toHaveLength(0);
    expect(await usage(carol.apiKey)).toMatchObject({ usedBytes: 100 * MiB - 4000, reservedBytes: 0 });
    // Room made: now both fit, and count.
    const freed = await call("/api/v1/volume/files/filler.bin", { key: carol.apiKey, method: "DELETE" });
    expect(freed.status).toBe(204);
    const kept = await keep();
    expect(kept.status).toBe(200);
    expect(await kept.json()).toEqual({ executionId: json.id, artifacts: 2, bytes: 6000 });
    expect(await usage(carol.apiKey)).toMatchObject({ usedBytes: 6000, fileCount: 0 });
    // A run without a manifest has nothing to keep.
    const plain = await execute(carol.apiKey, { language: "shell", conversationId: "later", code: "true" });
    const none = await call(`/api/v1/executions/${plain.json.id}/artifacts/keep`, {
      key: carol.apiKey,
      method: "POST",
    });
    expect(none.status).toBe(409);
    // A 100 MiB upload on a loaded machine: more time than the default.
  }, 180_000);

  it("refuses a keepArtifacts run over quota with 507, the run itself recorded", async () => {
    const dave = await createUser("artifacts-quota-run");
    expect((await putVolume(dave.apiKey, "filler.bin", sized(100 * MiB - 100))).status).toBe(201);
    const { res, json } = await execute(dave.apiKey, {
      language: "shell",
      conversationId: "over",
      keepArtifacts: true,
      code: "head -c 500 /dev/zero > out.bin; echo done",
    });
    expect(res.status).toBe(507);
    expect(json.error.code).toBe("quota_exceeded");
    expect((await env.VOLUMES.list({ prefix: `artifacts/${dave.id}/` })).objects).toHaveLength(0);
    const history = await call("/api/v1/executions", { key: dave.apiKey });
    const items = ((await history.json()) as { items: { stdout: string; artifacts: unknown[] }[] }).items;
    expect(items[0]).toMatchObject({
      stdout: "done\n",
      artifacts: [{ path: "out.bin", size: 500, change: "created" }],
    });
  }, 180_000);
});
