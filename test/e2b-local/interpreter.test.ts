// The code-interpreter-v1 template driven by the unmodified @e2b/code-interpreter SDK: contexts, state
// across runs, rich results (matplotlib PNG, pandas HTML, JSON), errors, env vars, a timed-out cell
// interrupted with its context's variables kept, JavaScript and bash contexts, commands.run alongside.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox, TimeoutError } from "@e2b/code-interpreter";
import { conn } from "./helpers.ts";

let sb: Sandbox;
beforeAll(async () => {
  // no template named: the SDK's default, code-interpreter-v1
  sb = await Sandbox.create({ ...conn(), envs: { PHX_SANDBOX_ENV: "from-create" } });
});
afterAll(async () => {
  await sb?.kill();
});

describe("code interpreter template", () => {
  it("is the SDK's default template, with a warm default Python context", async () => {
    expect((await sb.getInfo()).templateId).toBe("code-interpreter-v1");
    const ex = await sb.runCode("x = 41\nx + 1");
    expect(ex.error).toBeUndefined();
    expect(ex.text).toBe("42");
    expect(ex.results[0]!.isMainResult).toBe(true);
    expect(typeof ex.executionCount).toBe("number");
    const contexts = await sb.listCodeContexts();
    expect(contexts.some((c) => c.language === "python" && c.cwd === "/home/user")).toBe(true);
  });

  it("keeps state between runs and streams stdout/stderr through the callbacks", async () => {
    await sb.runCode("counter = 1");
    await sb.runCode("counter += 1");
    const out: string[] = [];
    const err: string[] = [];
    const ex = await sb.runCode("import sys\nprint('hello', counter)\nprint('warn', file=sys.stderr)\ncounter", {
      onStdout: (m) => void out.push(m.line),
      onStderr: (m) => void err.push(m.line),
    });
    expect(ex.text).toBe("2");
    expect(ex.logs.stdout.join("")).toBe("hello 2\n");
    expect(ex.logs.stderr.join("")).toBe("warn\n");
    expect(out.join("")).toBe("hello 2\n");
    expect(err.join("")).toBe("warn\n");
    // a string result comes without its repr quotes, as on E2B
    expect((await sb.runCode("'abc'")).text).toBe("abc");
  });

  it("creates, lists, restarts and removes contexts", async () => {
    const ctx = await sb.createCodeContext({ language: "python", cwd: "/tmp" });
    expect(ctx).toMatchObject({ language: "python", cwd: "/tmp" });
    expect(typeof ctx.id).toBe("string");
    expect((await sb.listCodeContexts()).map((c) => c.id)).toContain(ctx.id);
    expect((await sb.runCode("import os\nos.getcwd()", { context: ctx })).text).toBe("/tmp");
    await sb.runCode("only_here = 'yes'", { context: ctx });
    expect((await sb.runCode("only_here", { context: ctx })).text).toBe("yes");
    // contexts are separate: the default one does not see it
    expect((await sb.runCode("only_here")).error?.name).toBe("NameError");
    await sb.restartCodeContext(ctx);
    const after = await sb.runCode("only_here", { context: ctx });
    expect(after.error?.name).toBe("NameError");
    await sb.removeCodeContext(ctx.id);
    expect((await sb.listCodeContexts()).map((c) => c.id)).not.toContain(ctx.id);
    // the server's 404 "Context <id> not found", which the SDK turns into its NotFoundError
    const notFound = { name: "NotFoundError", message: expect.stringContaining(`Context ${ctx.id} not found`) };
    await expect(sb.runCode("1", { context: ctx })).rejects.toMatchObject(notFound);
    await expect(sb.removeCodeContext(ctx.id)).rejects.toMatchObject(notFound);
  });

  it("returns a matplotlib chart as PNG", async () => {
    const ex = await sb.runCode(
      "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.title('t')\nplt.show()",
    );
    expect(ex.error).toBeUndefined();
    const png = ex.results.find((r) => r.png);
    expect(png).toBeDefined();
    expect(png!.isMainResult).toBe(false);
    const bytes = Buffer.from(png!.png!, "base64");
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png!.formats()).toContain("png");
  });

  it("returns a pandas DataFrame as an HTML table plus text, and JSON display data", async () => {
    const df = await sb.runCode("import pandas as pd\npd.DataFrame({'city': ['Oslo', 'Lima'], 'n': [1, 2]})");
    expect(df.error).toBeUndefined();
    const main = df.results.find((r) => r.isMainResult)!;
    expect(main.html).toContain("<table");
    expect(main.html).toContain("Oslo");
    expect(main.text).toContain("Lima");
    const js = await sb.runCode("from IPython.display import JSON, display\ndisplay(JSON({'k': [1, 2]}))");
    expect(js.results).toHaveLength(1);
    expect(js.results[0]!.json).toEqual({ k: [1, 2] });
    expect(js.results[0]!.isMainResult).toBe(false);
  });

  it("reports an exception as execution.error with name, value and traceback", async () => {
    const ex = await sb.runCode("def f():\n    raise ValueError('boom')\nprint('before')\nf()");
    expect(ex.logs.stdout.join("")).toBe("before\n");
    expect(ex.error?.name).toBe("ValueError");
    expect(ex.error?.value).toBe("boom");
    // IPython's traceback, colours included (as E2B sends it)
    const plain = ex.error?.traceback.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g"), "");
    expect(plain).toContain("----> 4 f()");
    expect(plain).toContain("ValueError: boom");
    expect(ex.results).toHaveLength(0);
  });

  it("applies env vars for one execution only, on top of the sandbox's", async () => {
    const code = "import os\nstr((os.environ.get('PHX_ONE'), os.environ.get('PHX_SANDBOX_ENV')))";
    expect((await sb.runCode(code, { envs: { PHX_ONE: "v1", PHX_SANDBOX_ENV: "over" } })).text).toBe("('v1', 'over')");
    expect((await sb.runCode(code)).text).toBe("(None, 'from-create')");
    const js = await sb.runCode("[process.env.PHX_ONE, process.env.PHX_SANDBOX_ENV].join(',')", {
      language: "javascript",
      envs: { PHX_ONE: "j1" },
    });
    expect(js.text).toBe("'j1,from-create'");
    expect((await sb.runCode("String(process.env.PHX_ONE)", { language: "javascript" })).text).toBe("'undefined'");
  });

  it("interrupts a cell that times out; the context keeps its variables", async () => {
    await sb.runCode("kept = 7");
    await expect(sb.runCode("import time\ntime.sleep(120)\nkept = 8", { timeoutMs: 1500 })).rejects.toBeInstanceOf(
      TimeoutError,
    );
    // not interrupted, the kernel would be busy for two more minutes and this would time out
    const ex = await sb.runCode("kept");
    expect(ex.text).toBe("7");
  });

  it("runs JavaScript in a persistent node context (globals kept, errors, interrupt)", async () => {
    const a = await sb.runCode("console.log('from js'); const g = 20; g + 1", { language: "js" });
    expect(a.error).toBeUndefined();
    expect(a.logs.stdout.join("")).toBe("from js\n");
    expect(a.text).toBe("21");
    expect((await sb.runCode("g * 2", { language: "javascript" })).text).toBe("40");
    expect((await sb.runCode("Promise.resolve(g + 2)", { language: "javascript" })).text).toBe("22");
    // top-level await: the cell runs as an async function body
    const awaited = await sb.runCode("globalThis.w = await Promise.resolve(g + 3)\nreturn w", { language: "js" });
    expect(awaited.text).toBe("23");
    expect((await sb.runCode("w", { language: "js" })).text).toBe("23");
    const err = await sb.runCode("null.x", { language: "javascript" });
    expect(err.error?.name).toBe("TypeError");
    expect(err.error?.traceback).toContain("TypeError");
    const ctx = await sb.createCodeContext({ language: "javascript" });
    expect(ctx.language).toBe("javascript");
    expect((await sb.runCode("typeof g", { context: ctx })).text).toBe("'undefined'");
    await expect(
      sb.runCode("globalThis.k = 1; while (true) {}", { context: ctx, timeoutMs: 1500 }),
    ).rejects.toBeInstanceOf(TimeoutError);
    expect((await sb.runCode("k + 1", { context: ctx })).text).toBe("2");
    await sb.removeCodeContext(ctx);
  });

  it("runs bash in a persistent context", async () => {
    const ctx = await sb.createCodeContext({ language: "bash" });
    const a = await sb.runCode("X=3; cd /tmp; echo $((X * 2))", { context: ctx });
    expect(a.logs.stdout.join("")).toBe("6\n");
    const b = await sb.runCode("echo $X $PWD", { context: ctx });
    expect(b.logs.stdout.join("")).toBe("3 /tmp\n");
    expect((await sb.runCode("false", { context: ctx })).error?.value).toBe("exit status 1");
  });

  it("still runs commands, beside the interpreter", async () => {
    const r = await sb.commands.run("echo ok && python3 -c 'print(6 * 7)'");
    expect(r.stdout).toBe("ok\n42\n");
    // the interpreter's server is the sandbox's own process, on its own loopback
    const curl = await sb.commands.run(
      `/usr/bin/python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:49999/health').read().decode())"`,
    );
    expect(curl.stdout).toContain("OK");
  });

  it("refuses an unknown template and an unknown language", async () => {
    await expect(Sandbox.create("no-such-template", conn())).rejects.toThrow(/not found/);
    await expect(sb.runCode("1", { language: "cobol" })).rejects.toThrow();
  });

  it("works with internet access too: the server listens in the sandbox's own network namespace", async () => {
    const online = await Sandbox.create({ ...conn(), allowInternetAccess: true });
    try {
      const execution = await online.runCode("x = 20\nx + 22");
      expect(execution.error).toBeUndefined();
      expect(execution.text).toBe("42");
    } finally {
      await online.kill();
    }
  });
});
