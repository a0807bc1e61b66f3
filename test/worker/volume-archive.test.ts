// Volume export (a tar of every file) and import (checked first, stored all or none).
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { remoteLedger, userSpace } from "../../src/durable/stub.ts";
import { ApiError } from "../../src/errors.ts";
import { exportVolume, importVolume } from "../../src/volume/archive.ts";
import { readTar, TAR_END, tarHeader, tarPadding } from "../../src/volume/tar.ts";
import { writeTar } from "../unit/tar-writer.ts";
import { call, createUser, type ErrorBody } from "./helpers.ts";
import { fileUrl, MiB, pattern, put, r2Totals, sha256, sized, usage } from "./volume-helpers.ts";

/** Made by GNU tar 1.34: `tar --format=gnu -C d -cf - .` with a 158-byte name (GNU long-name header). */
const GNU_TAR =
  "H4sICMtyCGsCA2dudS50YXIA7dZNDoMgEAVg1j0FJ0BGBtn2AF6iTRptaiBRTHr8End2oekC+ve+zRhx95xhVCWy04mzdqnJc12eyRpda0eGTHrvnGYhrShgnuJplFKMIcSt7/bOv5Sqpj6MUcV7zJp/w7yRv13nT2SdE1Ij/+yW9AX8q9T/8znzHfDy/CfNzmL+l8lfVcc2+K69+tub5n/NtPoX0vxvUpEt8i/U//4jZV1KoFj+u/sf1ev5b7gxjP2vhP4yDEF2fj6gFwAAAAAAAAAAAAAAAH7BAxh+fFMAKAAA";
/** Made by GNU tar 1.34: `tar --format=pax` with a 331-byte UTF-8 name (PAX path record). */
const PAX_TAR =
  "H4sICM1yCGsCA3BheC50YXIA7ddPaoNAFAbwWecUnkDfm7+6yL7LXmFahWYRDDoFe6TeobtcrFoaqCkaUtQQ+/1moTCKyvN9o3Hy6JuHwudFVSd5Wde7ohITo5bV+mvbOt8SKynYKJLkWLERxGwti6gRC3itg6/aWxH/k6JoH3b7YssuM46NS7PYZZIpTZXdtLN+dPZ5eFbAHfhu+WTOa3Q97owZ7P9uv9//0si2/82S/V+VZRg77tL8+cPdWf1/rALH94nHpfzX1vTrr602Dvm/BMlZdPDhZXt6ESav/o1GssHSdkX/z1mKq/PfKOmQ/6uq/1j+dx/7/fqTUhb5v8j3v1Yrzf/jx21GHJowsPZYYuu0+9Paczp3hf1P/Dv/rRQRIf9nd/BN9FTmb/gTBgAAAAAAAAAAAFiXTwco54QAKAAA";

function gunzip(base64: string): ReadableStream<Uint8Array> {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
}

type Entry = { name: string; size: number; seed?: number; type?: string };

/** A tar built as a stream (bodies generated on the fly), with its length for Content-Length. */
function tarOf(entries: Entry[], { truncate = 0 } = {}): { body: ReadableStream<Uint8Array>; length: number } {
  const headers = entries.map((e) => {
    const header = tarHeader({ name: e.name, size: e.size, mtime: new Date() });
    if (e.type) {
      // Re-flag the last header block and fix its checksum.
      const block = header.subarray(header.length - 512);
      block[156] = e.type.charCodeAt(0);
      block.fill(0x20, 148, 156);
      const sum = block.reduce((a, b) => a + b, 0);
      block.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, "0")}\0 `), 148);
    }
    return header;
  });
  const length =
    entries.reduce((n, e, i) => n + headers[i]!.length + e.size + tarPadding(e.size).length, 0) +
    TAR_END.length -
    truncate;
  const { readable, writable } = new FixedLengthStream(length);
  (async () => {
    const writer = writable.getWriter();
    let written = 0;
    const write = async (chunk: Uint8Array) => {
      const room = length - written;
      if (room <= 0) return;
      const part = chunk.subarray(0, room);
      written += part.length;
      await writer.write(part);
    };
    for (const [i, e] of entries.entries()) {
      await write(headers[i]!);
      for await (const chunk of pattern(e.size, e.seed ?? 0)) await write(chunk);
      await write(tarPadding(e.size));
    }
    await write(TAR_END);
    await writer.close();
  })().catch(() => {});
  return { body: readable, length };
}

function importTar(key: string, body: BodyInit) {
  return call("/api/v1/volume/import", { key, method: "POST", body, headers: { "Content-Type": "application/x-tar" } });
}

async function names(key: string): Promise<string[]> {
  const res = await call("/api/v1/volume/files?limit=1000", { key });
  return (await res.json<{ items: { name: string }[] }>()).items.map((i) => i.name).sort();
}

async function stagingLeft(): Promise<number> {
  return (await env.VOLUMES.list({ prefix: "staging/" })).objects.length;
}

describe("export", () => {
  it("streams a tar of every file that imports back identically", async () => {
    const a = await createUser("export-a");
    const longName = `deep/${"é".repeat(100)}/${"x".repeat(200)}.bin`;
    const files: [string, number][] = [
      ["a.txt", 5],
      ["results/2026/run.json", 700],
      [longName, 3 * MiB + 17],
      ["empty", 0],
    ];
    for (const [i, [name, size]] of files.entries())
      expect((await put(a.apiKey, name, sized(size, i))).status).toBe(201);

    const exported = await call("/api/v1/volume/export", { key: a.apiKey });
    expect(exported.status).toBe(200);
    expect(exported.headers.get("Content-Type")).toBe("application/x-tar");
    expect(exported.headers.get("Content-Disposition")).toMatch(/attachment; filename="volume-.*\.tar"/);
    const tar = new Uint8Array(await exported.arrayBuffer());
    expect(tar.length % 512).toBe(0);
    expect(new TextDecoder().decode(tar.subarray(257, 262))).toBe("ustar");

    const b = await createUser("export-b");
    const imported = await importTar(b.apiKey, tar);
    expect(imported.status).toBe(201);
    expect((await imported.json<{ files: unknown[] }>()).files).toHaveLength(files.length);
    expect(await names(b.apiKey)).toEqual(files.map(([n]) => n).sort());
    for (const [i, [name, size]] of files.entries()) {
      const res = await call(fileUrl(name), { key: b.apiKey });
      expect(await sha256(res.body!), name).toBe(await sha256(pattern(size, i)));
    }
    expect(await usage(b.apiKey)).toMatchObject({
      usedBytes: (await usage(a.apiKey)).usedBytes,
      fileCount: files.length,
    });
    expect(await stagingLeft()).toBe(0);
  });

  it("exports an empty volume as an empty archive", async () => {
    const u = await createUser("export-empty");
    const res = await call("/api/v1/volume/export", { key: u.apiKey });
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array(1024));
  });
});

describe("export errors", () => {
  /**
   * The real bucket, except that reading `failKey` fails (R2 failing a read cannot be caused on demand
   * locally, so this one fault is simulated) and `goneKey` reads as deleted since the listing.
   */
  function bucketWith(faults: { failKey?: string; goneKey?: string }): R2Bucket {
    return {
      list: (options?: R2ListOptions) => env.VOLUMES.list(options),
      get: async (key: string) => {
        if (key === faults.failKey) throw new Error("get: We encountered an internal error. Please try again. (10001)");
        if (key === faults.goneKey) return null;
        return env.VOLUMES.get(key);
      },
    } as unknown as R2Bucket;
  }

  async function entriesOf(tar: ReadableStream<Uint8Array>): Promise<[string, string][]> {
    const out: [string, string][] = [];
    for await (const entry of readTar(tar)) out.push([entry.name, await new Response(entry.body).text()]);
    return out;
  }

  it("fails the stream when R2 fails mid-export, so a client never mistakes a cut archive for a whole one", async () => {
    const u = await createUser("export-fail");
    for (const name of ["a.txt", "b.txt", "c.txt"]) await put(u.apiKey, name, `contents of ${name}`);
    const stream = exportVolume(bucketWith({ failKey: `volumes/${u.id}/b.txt` }), u.id);
    const err = await new Response(stream).arrayBuffer().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String(err)).toContain("internal error");
  });

  it("leaves out a file deleted since the listing and still ends the archive properly", async () => {
    const u = await createUser("export-gone");
    for (const name of ["a.txt", "b.txt", "c.txt"]) await put(u.apiKey, name, `contents of ${name}`);
    const stream = exportVolume(bucketWith({ goneKey: `volumes/${u.id}/b.txt` }), u.id);
    expect(await entriesOf(stream)).toEqual([
      ["a.txt", "contents of a.txt"],
      ["c.txt", "contents of c.txt"],
    ]);
  });

  it("needs a key", async () => {
    const res = await call("/api/v1/volume/export");
    expect(res.status).toBe(401);
    expect((await res.json<ErrorBody>()).error.code).toBe("unauthorized");
  });
});

describe("import", () => {
  it("reads archives made by GNU tar (GNU long names, PAX, './' prefixes, directories)", async () => {
    const u = await createUser("import-gnu");
    expect((await importTar(u.apiKey, gunzip(GNU_TAR))).status).toBe(201);
    expect((await importTar(u.apiKey, gunzip(PAX_TAR))).status).toBe(201);
    const paxName = `dossier/${"é".repeat(100)}/${"ü".repeat(60)}.txt`;
    expect(await names(u.apiKey)).toEqual(["short.txt", `sub/${"n".repeat(150)}.txt`, paxName].sort());
    expect(await (await call(fileUrl(paxName), { key: u.apiKey })).text()).toBe("pax body");
    expect(await (await call(fileUrl(`sub/${"n".repeat(150)}.txt`), { key: u.apiKey })).text()).toBe("hello gnu\n");
  });

  const refused: [string, Entry[], number, string][] = [
    [
      "a '..' name anywhere",
      [
        { name: "ok.txt", size: 10 },
        { name: "a/../../b", size: 3 },
      ],
      400,
      "'..'",
    ],
    [
      "an absolute name",
      [
        { name: "ok.txt", size: 10 },
        { name: "/etc/passwd", size: 3 },
      ],
      400,
      "absolute",
    ],
    [
      "a symlink",
      [
        { name: "ok.txt", size: 10 },
        { name: "link", size: 0, type: "2" },
      ],
      400,
      "not a regular file",
    ],
  ];
  for (const [what, entries, status, mentions] of refused) {
    it(`stores nothing when the archive holds ${what}`, async () => {
      const u = await createUser("import-bad");
      await put(u.apiKey, "before.txt", "kept");
      const { body } = tarOf(entries);
      const res = await importTar(u.apiKey, body);
      expect(res.status).toBe(status);
      expect((await res.json<ErrorBody>()).error.message).toContain(mentions);
      expect(await names(u.apiKey)).toEqual(["before.txt"]);
      expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 4, fileCount: 1, reservedBytes: 0 });
      expect(await stagingLeft()).toBe(0);
    });
  }

  it("stores nothing from a cut-short or garbage archive", async () => {
    const u = await createUser("import-cut");
    const { body } = tarOf(
      [
        { name: "a.bin", size: 4000 },
        { name: "b.bin", size: 4000 },
      ],
      { truncate: 3000 },
    );
    const cut = await importTar(u.apiKey, body);
    expect(cut.status).toBe(400);
    expect((await cut.json<ErrorBody>()).error.message).toContain("tar");
    const garbage = await importTar(u.apiKey, new Uint8Array(2048).fill(65));
    expect(garbage.status).toBe(400);
    expect(await names(u.apiKey)).toEqual([]);
    expect(await stagingLeft()).toBe(0);
  });

  it("one user's import never touches another's files or usage, even under the same names", async () => {
    const a = await createUser("import-iso-a");
    const b = await createUser("import-iso-b");
    await put(a.apiKey, "shared.txt", "a's version");
    await put(a.apiKey, "only-a.txt", "a only");
    const before = await usage(a.apiKey);
    const tar = writeTar([
      { name: "shared.txt", data: new TextEncoder().encode("b's version, longer") },
      { name: `x/${a.id}/only-a.txt`, data: new TextEncoder().encode("b") },
    ]);
    const res = await importTar(b.apiKey, tar);
    expect(res.status).toBe(201);

    expect(await (await call(fileUrl("shared.txt"), { key: a.apiKey })).text()).toBe("a's version");
    expect(await (await call(fileUrl("only-a.txt"), { key: a.apiKey })).text()).toBe("a only");
    expect(await names(a.apiKey)).toEqual(["only-a.txt", "shared.txt"]);
    expect(await usage(a.apiKey)).toEqual(before);
    expect(await r2Totals(a.id)).toEqual({ bytes: before.usedBytes, count: 2 });
    expect(await (await call(fileUrl("shared.txt"), { key: b.apiKey })).text()).toBe("b's version, longer");
    expect(await names(b.apiKey)).toEqual(["shared.txt", `x/${a.id}/only-a.txt`]);

    // An entry that tries to climb into a's folder is refused, and b's import stores nothing.
    const climbing = writeTar([{ name: `../${a.id}/only-a.txt`, data: new TextEncoder().encode("overwritten") }]);
    const refused = await importTar(b.apiKey, climbing);
    expect(refused.status).toBe(400);
    expect((await refused.json<ErrorBody>()).error.message).toContain("'..'");
    expect(await (await call(fileUrl("only-a.txt"), { key: a.apiKey })).text()).toBe("a only");
    expect(await usage(a.apiKey)).toEqual(before);
  });

  it("checks the quota over the whole archive: over is 507 and stores nothing; overwrites count the difference", async () => {
    const u = await createUser("import-quota");
    expect((await put(u.apiKey, "a.bin", sized(55 * MiB))).status).toBe(201);
    const over = tarOf([
      { name: "b.bin", size: 1 * MiB },
      { name: "c.bin", size: 45 * MiB },
    ]);
    const refused = await importTar(u.apiKey, over.body);
    expect(refused.status).toBe(507);
    expect((await refused.json<ErrorBody>()).error.code).toBe("quota_exceeded");
    expect(await names(u.apiKey)).toEqual(["a.bin"]);
    expect(await stagingLeft()).toBe(0);

    // 55 + 51 would be over; replacing a.bin (55 MiB) by 1 MiB and adding 50 MiB is not.
    const fits = tarOf([
      { name: "a.bin", size: 1 * MiB, seed: 9 },
      { name: "b.bin", size: 50 * MiB },
    ]);
    const ok = await importTar(u.apiKey, fits.body);
    expect(ok.status).toBe(201);
    const truth = await r2Totals(u.id);
    expect(truth).toEqual({ bytes: 51 * MiB, count: 2 });
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: truth.bytes, fileCount: 2, reservedBytes: 0 });
    const a = await call(fileUrl("a.bin"), { key: u.apiKey });
    expect(await sha256(a.body!)).toBe(await sha256(pattern(1 * MiB, 9)));
  });

  it("an import whose reservation lapsed and no longer fits puts the volume back as it was", async () => {
    const u = await createUser("import-late");
    await put(u.apiKey, "keep.txt", "old contents");
    const ledger = remoteLedger(userSpace(env, u.id));
    const slow = {
      ...ledger,
      // Between moving the files in and committing: the reservation lapses and the room is taken.
      commit: async (commits: Parameters<typeof ledger.commit>[0]) => {
        await runInDurableObject(userSpace(env, u.id), (_instance, state) => {
          state.storage.sql.exec(`UPDATE volume_reservations SET expires_at = 0`);
        });
        expect((await put(u.apiKey, "filler.bin", sized(100 * MiB - 12))).status).toBe(201);
        return ledger.commit(commits);
      },
    };
    const { body } = tarOf([
      { name: "keep.txt", size: 3000, seed: 1 },
      { name: "new.bin", size: 2000 },
    ]);
    const err = await importVolume(env.VOLUMES, slow, u.id, body, 100 * MiB).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe("quota_exceeded");

    // Stored but uncounted would be the bug: the import's files are gone and keep.txt is the old one.
    expect(await names(u.apiKey)).toEqual(["filler.bin", "keep.txt"]);
    expect(await (await call(fileUrl("keep.txt"), { key: u.apiKey })).text()).toBe("old contents");
    const truth = await r2Totals(u.id);
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: truth.bytes, fileCount: truth.count, reservedBytes: 0 });
    expect(await stagingLeft()).toBe(0);
  });

  it("refuses an archive bigger than the whole quota while reading it", async () => {
    const u = await createUser("import-huge");
    const { body } = tarOf([
      { name: "a.bin", size: 1000 },
      { name: "b.bin", size: 101 * MiB },
    ]);
    const res = await importTar(u.apiKey, body);
    expect(res.status).toBe(507);
    expect(await names(u.apiKey)).toEqual([]);
    expect(await stagingLeft()).toBe(0);
  });

  // A PAX size of 2.5 once kept workerd looping (health timed out for everyone); -1 and NaN were 500s.
  it.each(["2.5", "-1", "NaN", "1e3", "0x10"])(
    "answers a PAX size of %j with 400 at once, storing nothing, while health stays up",
    async (size) => {
      const u = await createUser("import-pax-size");
      const tar = writeTar([
        { name: "ok.txt", data: new TextEncoder().encode("fine") },
        { name: "bad.txt", data: new Uint8Array(5), pax: { size } },
      ]);
      const [res, health] = await Promise.all([importTar(u.apiKey, tar), call("/api/health")]);
      expect(res.status).toBe(400);
      const body = await res.json<ErrorBody>();
      expect(body.error.code).toBe("invalid_request");
      expect(body.error.message).toContain("tar");
      expect(body.error.message).toContain(`PAX size '${size}'`);
      expect(health.status).toBe(200);
      expect((await call("/api/health")).status).toBe(200);
      expect(await names(u.apiKey)).toEqual([]);
      expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 0, fileCount: 0, reservedBytes: 0 });
      expect(await stagingLeft()).toBe(0);
    },
    // A reader that loops would hold this request until the pool's 60 s; fail well before that.
    15_000,
  );
});
