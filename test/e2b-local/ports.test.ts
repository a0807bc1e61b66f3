// Port routing: a server listening inside a sandbox is reachable through e2b-local with the
// `E2b-Sandbox-Id` + `E2b-Sandbox-Port` headers (or the `<port>-<id>.<domain>` host), streamed both ways
// and with Upgrade; a port only the host listens on and another sandbox's ports are not.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "node:http";
import { Sandbox } from "e2b";
import { conn, marker, withSandbox } from "./helpers.ts";

const url = () => conn().sandboxUrl as string;
const at = (sb: Sandbox, port: number, extra: Record<string, string> = {}) => ({
  "E2b-Sandbox-Id": sb.sandboxId,
  "E2b-Sandbox-Port": String(port),
  ...extra,
});

/** Wait (by polling the route itself) until a server inside the sandbox answers on `port`. */
async function waitForPort(sb: Sandbox, port: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const r = await fetch(`${url()}/`, { headers: at(sb, port) });
    await r.arrayBuffer();
    if (r.status !== 502) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never opened`);
}

// A host-only server: it must never be reached through a sandbox's port route.
const HOST_SECRET = marker();
let hostServer: Server;
let hostPort = 0;
beforeAll(async () => {
  hostServer = createServer((_req, res) => res.end(HOST_SECRET));
  await new Promise<void>((r) => hostServer.listen(0, "127.0.0.1", () => r()));
  hostPort = (hostServer.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => hostServer.close(() => r())));

describe("port routing", () => {
  it("reaches `python3 -m http.server` started in the background inside the sandbox", async () => {
    await withSandbox(async (sb) => {
      const mk = marker();
      await sb.files.write("/home/user/site/index.html", `<p>${mk}</p>`);
      await sb.commands.run("python3 -m http.server 8000 --bind 127.0.0.1", {
        background: true,
        cwd: "/home/user/site",
      });
      await waitForPort(sb, 8000);
      const r = await fetch(`${url()}/index.html`, { headers: at(sb, 8000) });
      expect(r.status).toBe(200);
      expect(await r.text()).toBe(`<p>${mk}</p>`);
      const missing = await fetch(`${url()}/nope.txt`, { headers: at(sb, 8000) });
      expect(missing.status).toBe(404);
      await missing.arrayBuffer();
      // the host form E2B's SDKs build without a sandbox URL: <port>-<sandboxId>.<domain>
      const viaHost = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const u = new URL(url());
        const req = request(
          { host: u.hostname, port: u.port, path: "/index.html", headers: { host: `8000-${sb.sandboxId}.e2b.local` } },
          (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (d: string) => (body += d));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on("error", reject);
        req.end();
      });
      expect(viaHost).toEqual({ status: 200, body: `<p>${mk}</p>` });
    });
  });

  it("streams the response as it is produced and the request body in", async () => {
    await withSandbox(async (sb) => {
      // Sends "first", then waits for /tmp/go (written by the test only after it has read "first"),
      // then echoes the request body: the test can only pass if the first chunk arrived on its own.
      const server = `
import http.server, os, time
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"first\\n"); self.wfile.flush()
        while not os.path.exists("/tmp/go"):
            time.sleep(0.01)
        self.wfile.write(b"then:" + body)
http.server.HTTPServer(("127.0.0.1", 8001), H).serve_forever()
`;
      await sb.files.write("/home/user/stream.py", server);
      await sb.commands.run("python3 /home/user/stream.py", { background: true });
      await waitForPort(sb, 8001);
      const r = await fetch(`${url()}/`, { method: "POST", headers: at(sb, 8001), body: "payload" });
      expect(r.status).toBe(200);
      const reader = r.body!.getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toBe("first\n");
      await sb.files.write("/tmp/go", "");
      let rest = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        rest += new TextDecoder().decode(value);
      }
      expect(rest).toBe("then:payload");
    });
  });

  it("passes the request's own headers on, but not the routing headers or envd's access token", async () => {
    await withSandbox(async (sb) => {
      const server = `
import http.server, json
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
http.server.HTTPServer(("127.0.0.1", 8005), H).serve_forever()
`;
      await sb.files.write("/home/user/headers.py", server);
      await sb.commands.run("python3 /home/user/headers.py", { background: true });
      await waitForPort(sb, 8005);
      const envdToken = (sb as unknown as { envdAccessToken: string }).envdAccessToken;
      const r = await fetch(`${url()}/`, { headers: at(sb, 8005, { "X-Access-Token": envdToken, "X-Custom": "yes" }) });
      const seen = (await r.json()) as Record<string, string>;
      expect(seen["x-custom"]).toBe("yes");
      expect(Object.keys(seen).filter((k) => k.startsWith("e2b-") || k === "x-access-token")).toEqual([]);
      expect(JSON.stringify(seen)).not.toContain(envdToken);
    });
  });

  it("relays Upgrade connections (a raw echo protocol after 101)", async () => {
    await withSandbox(async (sb) => {
      const server = `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8002)); s.listen()
while True:
    c, _ = s.accept()
    head = b""
    while b"\\r\\n\\r\\n" not in head:
        head += c.recv(4096)
    if b"upgrade: echo" not in head.lower():
        c.sendall(b"HTTP/1.1 400 Bad Request\\r\\ncontent-length: 0\\r\\n\\r\\n"); c.close(); continue
    c.sendall(b"HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: echo\\r\\nConnection: Upgrade\\r\\n\\r\\n")
    while True:
        d = c.recv(4096)
        if not d: break
        c.sendall(d.upper())
    c.close()
`;
      await sb.files.write("/home/user/echo.py", server);
      await sb.commands.run("python3 /home/user/echo.py", { background: true });
      await waitForPort(sb, 8002);
      const u = new URL(url());
      const echoed = await new Promise<string>((resolve, reject) => {
        const req = request({
          host: u.hostname,
          port: u.port,
          path: "/",
          headers: { ...at(sb, 8002), Connection: "Upgrade", Upgrade: "echo" },
        });
        req.on("upgrade", (_res, socket) => {
          let got = "";
          socket.on("data", (d: Buffer) => {
            got += d.toString();
            if (got.length >= 5) {
              socket.destroy();
              resolve(got);
            }
          });
          socket.write("hello");
        });
        req.on("response", (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
        req.on("error", reject);
        req.end();
      });
      expect(echoed).toBe("HELLO");
    });
  });

  it("does not reach a port only the host listens on", async () => {
    await withSandbox(async (sb) => {
      const r = await fetch(`${url()}/`, { headers: at(sb, hostPort) });
      const body = await r.text();
      expect(r.status).toBe(502);
      expect(body).not.toContain(HOST_SECRET);
      expect(JSON.parse(body)).toMatchObject({ code: 502, port: hostPort, sandboxId: sb.sandboxId });
      // and the host server really is there (so the 502 is the isolation, not a dead server)
      expect(await (await fetch(`http://127.0.0.1:${hostPort}/`)).text()).toBe(HOST_SECRET);
    });
  });

  it("never reaches the host's ports from an internet-enabled sandbox (its own network namespace)", async () => {
    await withSandbox(
      async (sb) => {
        const r = await fetch(`${url()}/`, { headers: at(sb, hostPort) });
        const body = await r.text();
        expect(r.status).toBe(502);
        expect(body).not.toContain(HOST_SECRET);
      },
      { allowInternetAccess: true },
    );
  });

  it("does not reach another sandbox's port", async () => {
    await withSandbox(async (a) => {
      await withSandbox(async (b) => {
        const mk = marker();
        await a.files.write("/home/user/index.html", mk);
        await a.commands.run("python3 -m http.server 8003 --bind 127.0.0.1", {
          background: true,
          cwd: "/home/user",
        });
        await waitForPort(a, 8003);
        expect(await (await fetch(`${url()}/index.html`, { headers: at(a, 8003) })).text()).toBe(mk);
        const viaB = await fetch(`${url()}/index.html`, { headers: at(b, 8003) });
        const body = await viaB.text();
        expect(viaB.status).toBe(502);
        expect(body).not.toContain(mk);
        expect(JSON.parse(body).message).toBe("The sandbox is running but port is not open");
      });
    });
  });

  it("answers 502 for an unknown or killed sandbox and 400 for a bad port", async () => {
    const sb = await Sandbox.create(conn());
    const bad = await fetch(`${url()}/`, { headers: at(sb, 0) });
    expect(bad.status).toBe(400);
    await bad.arrayBuffer();
    await sb.kill();
    const gone = await fetch(`${url()}/`, { headers: at(sb, 8000) });
    expect(gone.status).toBe(502);
    expect(await gone.json()).toMatchObject({ code: 502, sandboxId: sb.sandboxId });
  });

  it("needs the traffic access token when created with allowPublicTraffic: false", async () => {
    await withSandbox(
      async (sb) => {
        const token = (sb as unknown as { trafficAccessToken?: string }).trafficAccessToken;
        expect(token).toBeTruthy();
        await sb.files.write("/home/user/index.html", "private");
        await sb.commands.run("python3 -m http.server 8004 --bind 127.0.0.1", { background: true, cwd: "/home/user" });
        const withToken = at(sb, 8004, { "E2B-Traffic-Access-Token": token! });
        for (let i = 0; i < 300; i++) {
          const r = await fetch(`${url()}/index.html`, { headers: withToken });
          if (r.status === 200) {
            expect(await r.text()).toBe("private");
            break;
          }
          await r.arrayBuffer();
          await new Promise((r) => setTimeout(r, 50));
        }
        for (const h of [at(sb, 8004), at(sb, 8004, { "E2B-Traffic-Access-Token": "wrong" })]) {
          const r = await fetch(`${url()}/index.html`, { headers: h });
          expect(r.status).toBe(403);
          expect(await r.text()).not.toContain("private");
        }
      },
      { network: { allowPublicTraffic: false } },
    );
  });
});
