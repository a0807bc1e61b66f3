// The README's API examples, run top to bottom with bash and curl against the local stack, each
// documented `# →` answer checked: the only way the examples stay true.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";
import { examples, mismatch, outputs, script, shellBlocks } from "../../scripts/readme-examples.ts";

const baseUrl = inject("baseUrl");
const ownerToken = inject("ownerToken");
const MARKER = "@@README-EXAMPLE-";

describe("README examples", () => {
  it("run in order and give the documented answers", async () => {
    const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
    // The README's first line sets URL and KEY by hand; here they come from the stack and a fresh user.
    const list = examples(shellBlocks(readme, "## The API at a glance", "### All routes")).filter(
      (example) => !example.command.startsWith("URL="),
    );
    expect(list.filter((example) => example.expected !== undefined).length).toBeGreaterThan(20);

    const created = await fetch(`${baseUrl}/api/v1/admin/users`, {
      method: "POST",
      headers: { Authorization: `Bearer ${ownerToken}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "readme" }),
    });
    const { apiKey } = (await created.json()) as { apiKey: string };

    const dir = await mkdtemp(join(tmpdir(), "phoenix-readme-"));
    try {
      const { stdout } = await promisify(execFile)("bash", ["-c", `set -u\n${script(list, MARKER)}`], {
        cwd: dir,
        env: { ...process.env, URL: baseUrl, KEY: apiKey },
        maxBuffer: 16 * 1024 * 1024,
        timeout: 150_000,
      });
      const results = outputs(stdout, MARKER, list.length);
      const problems = list.flatMap((example, i) => {
        if (example.expected === undefined) return [];
        const problem = mismatch(example.expected, results[i]!);
        return problem ? [`${example.command.split("\n")[0]}\n  ${problem}`] : [];
      });
      expect(problems).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
