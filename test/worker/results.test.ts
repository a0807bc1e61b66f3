// A stateful run's results in history: a matplotlib PNG and a pandas HTML table stored and re-read,
// a large image kept in R2 and served by its authenticated URL, and those payloads deleted by
// history retention and by deleting the user — never counted in the volume.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { pruneHistory } from "../../src/cron.ts";
import { INLINE_RESULT_BYTES } from "../../src/interpreter/stored-results.ts";
import { call, createUser, type ExecutionBody, execute, OWNER_TOKEN } from "./helpers.ts";

const DAY_MS = 86_400_000;

interface HistoryBody {
  id: string;
  status: string;
  results?: { type: string; isMainResult: boolean; data?: string; size?: number; url?: string }[];
  exception?: { name: string; value: string; traceback: string };
}

const stateful = (key: string, code: string) =>
  execute(key, { language: "python", code, stateful: true, conversationId: "charts" });

const bytesOf = (base64: string) => Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0));

/** A noisy image: its PNG is far larger than the inline limit. */
const BIG_IMAGE = [
  "import numpy as np, matplotlib.pyplot as plt",
  "np.random.seed(1)",
  "plt.figure(figsize=(6, 6))",
  "plt.imshow(np.random.rand(500, 500))",
  "plt.show()",
].join("\n");

async function historyOf(key: string, id: string): Promise<HistoryBody> {
  const res = await call(`/api/v1/executions/${id}`, { key });
  expect(res.status).toBe(200);
  return res.json();
}

describe("stateful results in history", () => {
  let alice: { id: string; apiKey: string };
  let bob: { id: string; apiKey: string };
  beforeAll(async () => {
    alice = await createUser("results-a");
    bob = await createUser("results-b");
  });

  it("stores a PNG chart and an HTML table, and history gives them back as they were returned", async () => {
    const chart = (
      await stateful(
        alice.apiKey,
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.title('sales')\nplt.show()",
      )
    ).json as ExecutionBody;
    expect(chart.status).toBe("succeeded");
    const png = chart.results!.find((r) => r.type === "image/png")!;
    expect([...bytesOf(png.data).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);

    const table = (
      await stateful(
        alice.apiKey,
        "import pandas as pd\ndf = pd.DataFrame({'city': ['Oslo', 'Lima'], 'temp': [3, 19]})\ndf",
      )
    ).json as ExecutionBody;
    expect(table.status).toBe("succeeded");
    const html = table.results!.find((r) => r.isMainResult)!;
    expect(html.type).toBe("text/html");
    expect(html.data).toContain("<table");
    expect(html.data).toContain("Lima");

    // both are small enough to come back inline, exactly as the run returned them
    expect((await historyOf(alice.apiKey, chart.id)).results).toEqual(chart.results);
    expect((await historyOf(alice.apiKey, table.id)).results).toEqual(table.results);
    const list = await call("/api/v1/executions?conversationId=charts&limit=5", { key: alice.apiKey });
    const items = ((await list.json()) as { items: HistoryBody[] }).items;
    expect(items.find((i) => i.id === table.id)?.results).toEqual(table.results);
    // an inline result is served by its URL too, with its type
    const index = table.results!.indexOf(html);
    const served = await call(`/api/v1/executions/${table.id}/results/${index}`, { key: alice.apiKey });
    expect(served.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    expect(await served.text()).toBe(html.data);
  });

  it("keeps the exception of a failed run in history with its traceback", async () => {
    const { json } = await stateful(alice.apiKey, "def f():\n    raise ValueError('bad input')\nf()");
    expect(json.status).toBe("failed");
    const item = await historyOf(alice.apiKey, json.id);
    expect(item.exception).toEqual(json.error);
    expect(item.exception?.traceback).toContain("bad input");
    expect(item.results).toEqual([]);
  });

  it("keeps a large image in R2: history has a URL that serves its bytes, to its owner only", async () => {
    const { json } = await stateful(alice.apiKey, BIG_IMAGE);
    const run = json as ExecutionBody;
    expect(run.status).toBe("succeeded");
    const index = run.results!.findIndex((r) => r.type === "image/png");
    const image = run.results![index]!;
    expect(image.data.length).toBeGreaterThan(INLINE_RESULT_BYTES);
    const expected = bytesOf(image.data);

    const item = await historyOf(alice.apiKey, run.id);
    const shown = item.results![index]!;
    expect(shown).toEqual({
      type: "image/png",
      isMainResult: false,
      size: expected.length,
      url: `/api/v1/executions/${run.id}/results/${index}`,
    });
    const res = await call(shown.url!, { key: alice.apiKey });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("image/png");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(expected);

    for (const [key, path] of [
      [bob.apiKey, shown.url!],
      [alice.apiKey, `/api/v1/executions/${run.id}/results/${index + 7}`],
      [alice.apiKey, `/api/v1/executions/${run.id}/results/x`],
    ] as const) {
      const refused = await call(path, { key });
      expect(refused.status).toBe(404);
    }
    expect((await call(shown.url!)).status).toBe(401);
    // not part of the user's volume
    const volume = await call("/api/v1/volume", { key: alice.apiKey });
    expect(await volume.json()).toMatchObject({ usedBytes: 0, fileCount: 0 });
  });

  it("deletes a large result's payload with its history row at retention", async () => {
    const { json } = await stateful(alice.apiKey, BIG_IMAGE);
    // reading history through the API brings it to D1
    const url = (await historyOf(alice.apiKey, json.id)).results!.find((r) => r.url)!.url!;
    const row = await env.DB.prepare(`SELECT results FROM executions WHERE id = ?`)
      .bind(json.id)
      .first<{ results: string }>();
    const stored = JSON.parse(row!.results) as { key?: string }[];
    const key = stored.find((r) => r.key)!.key!;
    expect(key.startsWith(`results/${alice.id}/${json.id}/`)).toBe(true);
    expect(await env.VOLUMES.head(key)).not.toBeNull();

    const days = Number(env.HISTORY_RETENTION_DAYS);
    await env.DB.prepare(`UPDATE executions SET created_at = ? WHERE id = ?`)
      .bind(Date.now() - (days + 1) * DAY_MS, json.id)
      .run();
    expect(await pruneHistory(env, Date.now())).toBeGreaterThanOrEqual(1);
    expect(await env.VOLUMES.head(key)).toBeNull();
    expect((await call(url, { key: alice.apiKey })).status).toBe(404);
  });

  it("deletes a user's stored results with the user", async () => {
    const carol = await createUser("results-c");
    const { json } = await stateful(carol.apiKey, BIG_IMAGE);
    expect(json.status).toBe("succeeded");
    await historyOf(carol.apiKey, json.id);
    const before = await env.VOLUMES.list({ prefix: `results/${carol.id}/` });
    expect(before.objects.length).toBeGreaterThan(0);
    const res = await call(`/api/v1/admin/users/${carol.id}`, { key: OWNER_TOKEN, method: "DELETE" });
    expect(res.status).toBe(200);
    const after = await env.VOLUMES.list({ prefix: `results/${carol.id}/` });
    expect(after.objects).toEqual([]);
  });
});
