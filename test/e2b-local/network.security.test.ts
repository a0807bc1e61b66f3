// Network containment, driven by the unmodified SDK: a sandbox with internet access has its own network
// namespace and cannot reach the host's loopback (e2b-local's own API, any other local server), the
// host's addresses or another sandbox, so the cross-tenant takeover (list every sandbox with the
// server's key, drive another's) fails; one without internet has only `lo`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { Sandbox } from "e2b";
import { conn, withSandbox } from "./helpers.ts";

/** Host HTTP servers the sandboxes must not reach: one on loopback only, one on every address. */
const servers: Server[] = [];
const ports = { loopback: 0, everywhere: 0 };
beforeAll(async () => {
  for (const [name, host] of [
    ["loopback", "127.0.0.1"],
    ["everywhere", "0.0.0.0"],
  ] as const) {
    const server = createServer((_req, res) => res.end("host secret"));
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    servers.push(server);
    ports[name] = (server.address() as AddressInfo).port;
  }
});
afterAll(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));

/** The host's own addresses (IPv4 and IPv6, loopback included). */
const hostAddresses = () =>
  Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((address) => address.address.split("%")[0]!);

/**
 * Python run inside a sandbox: for each "host port" argument pair, "open" if a TCP connection gets
 * through and an HTTP GET (with the API key, as the attack did) gets an answer, else "closed".
 */
const PROBE_PY = `
import socket, sys
args = sys.argv[1:]
key = args.pop(0)
for host, port in zip(args[::2], args[1::2]):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family); s.settimeout(3)
    try:
        s.connect((host, int(port)))
        s.sendall(("GET /sandboxes HTTP/1.0\\r\\nX-API-KEY: %s\\r\\n\\r\\n" % key).encode())
        print("open", host, port, s.recv(64)[:12])
    except OSError as e:
        print("closed", host, port, type(e).__name__)
    finally:
        s.close()
`;

describe("network containment", () => {
  it("with internet on, sandbox B reaches neither e2b-local, nor another host-loopback server, nor the host, nor sandbox A", async () => {
    const e2bPort = Number(new URL(conn().apiUrl as string).port);
    const apiKey = conn().apiKey as string;
    await withSandbox(
      async (a) => {
        // A serves something on all its addresses: a target B must not reach (up before B probes)
        await a.commands.run("exec python3 -m http.server 8000 --bind 0.0.0.0", { background: true, timeoutMs: 0 });
        const up = await a.commands.run(
          "for i in $(seq 100); do python3 -c 'import urllib.request as u; print(u.urlopen(\"http://127.0.0.1:8000/\").status)' 2>/dev/null && break; sleep 0.1; done",
        );
        expect(up.stdout).toBe("200\n");
        await withSandbox(
          async (b) => {
            // control: from the host, the key lists A and a GET of the test servers answers
            const listed = await Sandbox.list({ ...conn(), limit: 100 }).nextItems();
            expect(listed.map((s) => s.sandboxId)).toContain(a.sandboxId);
            expect(await (await fetch(`http://127.0.0.1:${ports.loopback}/`)).text()).toBe("host secret");

            const targets: Array<[string, number]> = [
              ["127.0.0.1", e2bPort], // B's own loopback now, not the host's
              ["127.0.0.1", ports.loopback],
              ["10.0.2.2", e2bPort], // slirp's gateway: would be the host's loopback
              ["10.0.2.2", ports.loopback],
              ["10.0.2.100", 8000], // A's address is B's own address: A is not behind it
              ["169.254.169.254", 80], // cloud metadata
            ];
            for (const address of hostAddresses()) {
              targets.push([address, e2bPort], [address, ports.everywhere]);
            }
            const probe = await b.commands.run(
              `python3 -c '${PROBE_PY}' ${apiKey} ${targets.map(([host, port]) => `${host} ${port}`).join(" ")}`,
            );
            const lines = probe.stdout.trim().split("\n");
            expect(lines).toHaveLength(targets.length);
            for (const line of lines) expect(line).toMatch(/^closed /);

            // the egress itself is set up: an interface besides lo, a default route, slirp's resolver
            const setup = await b.commands.run(
              "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '; awk '$2 == \"00000000\" {print \"default\", $1}' /proc/net/route; cat /etc/resolv.conf",
            );
            expect(setup.stdout).toBe("lo tap0 default tap0\nnameserver 10.0.2.3\n");
            // and DNS to it is let through (a TCP connection to the forwarder opens)
            const dns = await b.commands.run(`python3 -c '${PROBE_PY}' ${apiKey} 10.0.2.3 53`);
            expect(dns.stdout).toMatch(/^open 10\.0\.2\.3 53/);
          },
          { allowInternetAccess: true },
        );
      },
      { allowInternetAccess: true },
    );
  });

  it("without internet a sandbox has only lo and reaches nothing of the host", async () => {
    const e2bPort = Number(new URL(conn().apiUrl as string).port);
    await withSandbox(async (sb) => {
      const ifaces = await sb.commands.run("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
      expect(ifaces.stdout).toBe("lo\n");
      const probe = await sb.commands.run(
        `python3 -c '${PROBE_PY}' key 127.0.0.1 ${e2bPort} 127.0.0.1 ${ports.loopback} ${hostAddresses()
          .filter((address) => !address.includes(":"))
          .map((address) => `${address} ${ports.everywhere}`)
          .join(" ")}`,
      );
      for (const line of probe.stdout.trim().split("\n")) expect(line).toMatch(/^closed /);
    });
  });
});
