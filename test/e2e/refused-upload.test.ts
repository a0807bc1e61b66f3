// Uploads refused before their body is read, seen by Node's fetch through `wrangler dev`: the client
// gets the 507/400 answer, not ECONNRESET (what it got while the Worker left the body unread).
import { describe, expect, inject, it } from "vitest";

const baseUrl = inject("baseUrl");
const ownerToken = inject("ownerToken");
const MiB = 1024 * 1024;

async function createUser(name: string): Promise<{ id: string; apiKey: string }> {
  const res = await fetch(`${baseUrl}/api/v1/admin/users`, {
    method: "POST",
    headers: { Authorization: `Bearer ${ownerToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; apiKey: string };
}

/** A PUT whose body is far bigger than what the socket buffers hold, so it is still being sent at the answer. */
async function put(
  apiKey: string,
  name: string,
  size: number,
): Promise<{ status: number; error: { code: string; message: string } }> {
  const res = await fetch(`${baseUrl}/api/v1/volume/files/${name}`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${apiKey}` },
    body: new Uint8Array(size),
  });
  return { status: res.status, ...((await res.json()) as { error: { code: string; message: string } }) };
}

describe("refused uploads through wrangler dev", () => {
  it("answers an over-quota upload with 507, readable by Node's fetch, and stores nothing", async () => {
    const u = await createUser("refused-quota");
    const refused = await put(u.apiKey, "too-big.bin", 101 * MiB);
    expect(refused.status).toBe(507);
    expect(refused.error.code).toBe("quota_exceeded");
    // The same connection pool goes on working, and nothing was stored.
    const usage = await fetch(`${baseUrl}/api/v1/volume`, { headers: { Authorization: `Bearer ${u.apiKey}` } });
    expect(await usage.json()).toMatchObject({ usedBytes: 0, fileCount: 0, reservedBytes: 0 });
  });

  it("answers a bad name on a 20 MiB upload with the 400, not a reset", async () => {
    const u = await createUser("refused-name");
    for (let i = 0; i < 3; i++) {
      const refused = await put(u.apiKey, "a%2F..%2Fb", 20 * MiB);
      expect(refused.status).toBe(400);
      expect(refused.error.message).toContain("name: must not contain '..' segments");
    }
  });
});
