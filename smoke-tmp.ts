import { Sandbox } from "@e2b/code-interpreter";
import { startE2bLocal } from "/work/wt-interp/e2b-local/server.ts";
const s = await startE2bLocal({ port: 0 });
const conn = { apiUrl: s.url, sandboxUrl: s.url, apiKey: s.apiKey };
const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1]!.toFixed(2);
try {
  const sb = await Sandbox.create({ ...conn });
  const a: number[] = [],
    b: number[] = [],
    c: number[] = [],
    d: number[] = [];
  for (let i = 0; i < 30; i++) {
    let t = performance.now();
    await (
      await fetch(s.url + "/health", { headers: { "E2b-Sandbox-Id": sb.sandboxId, "E2b-Sandbox-Port": "49999" } })
    ).text();
    a.push(performance.now() - t);
    t = performance.now();
    await (await fetch(s.url + "/health", { headers: { "E2b-Sandbox-Id": sb.sandboxId } })).text();
    b.push(performance.now() - t);
    t = performance.now();
    await sb.runCode("1 + 1");
    c.push(performance.now() - t);
    t = performance.now();
    await sb.commands.run("/usr/bin/python3 -c '1 + 1'");
    d.push(performance.now() - t);
  }
  console.log("relay health", med(a), "envd health", med(b), "runCode", med(c), "python -c", med(d));
  await sb.kill();
} finally {
  await s.close();
}
