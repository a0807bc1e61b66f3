// A JavaScript context of the code-interpreter template: one long-lived node process that evaluates
// cells (JSON lines on stdin) in its own global scope, so globals survive between runs, and reports
// output, the last expression's value, errors and "done" as JSON lines on the event fd (argv[2]).
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const readline = require("node:readline");
const util = require("node:util");
const vm = require("node:vm");
const { createRequire } = require("node:module");

const EVENT_FD = Number(process.argv[2]);
let current = null; // the cell being run: output goes to it

function event(obj) {
  fs.writeSync(EVENT_FD, `${JSON.stringify(obj)}\n`);
}

function msg(m) {
  if (current) event({ t: "msg", cell: current, msg: m });
}

// console.* and direct writes become stdout/stderr messages, in order with results (all synchronous)
for (const [stream, type] of [
  [process.stdout, "stdout"],
  [process.stderr, "stderr"],
]) {
  stream.write = (chunk, encoding, cb) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString(encoding || "utf8");
    msg({ type, text, timestamp: new Date().toISOString() });
    const done = typeof encoding === "function" ? encoding : cb;
    if (typeof done === "function") process.nextTick(done);
    return true;
  };
}

// The cell's globals live in this process's global scope, like a REPL; `require` resolves from cwd.
globalThis.require = createRequire(path.join(process.cwd(), "noop.js"));

let interrupt = null; // set while awaiting a promise result: SIGINT ends the wait
process.on("SIGINT", () => {
  if (interrupt) interrupt();
});
process.on("uncaughtException", (e) => msg(errorMessage(e)));
process.on("unhandledRejection", (e) => msg(errorMessage(e)));

function errorMessage(e) {
  if (e instanceof Error || (e && typeof e === "object" && "stack" in e)) {
    return { type: "error", name: e.name || "Error", value: String(e.message ?? ""), traceback: String(e.stack ?? "") };
  }
  return { type: "error", name: "Error", value: util.inspect(e), traceback: "" };
}

function isThenable(v) {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof v.then === "function";
}

/**
 * The cell as a script; one using top-level `await` (a syntax error in a script) runs as the body of
 * an async function instead: its declarations are then local to the cell and its value is what it
 * `return`s (assign to `globalThis` to keep something).
 */
function compile(code, count) {
  const filename = `cell[${count}]`;
  try {
    return new vm.Script(code, { filename });
  } catch (e) {
    if (!(e instanceof SyntaxError) || !/await is only valid/.test(e.message)) throw e;
    return new vm.Script(`(async () => {\n${code}\n})()`, { filename, lineOffset: -1 });
  }
}

async function runCell({ cell, code, env, count }) {
  current = cell;
  const saved = {};
  for (const [k, v] of Object.entries(env || {})) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  try {
    // breakOnSigint: an interrupt stops a busy loop with an error and leaves the globals as they are
    let value = compile(code, count).runInThisContext({ breakOnSigint: true });
    if (isThenable(value)) {
      value = await new Promise((resolve, reject) => {
        interrupt = () => reject(Object.assign(new Error("Execution interrupted"), { name: "KeyboardInterrupt" }));
        value.then(resolve, reject);
      });
    }
    if (value !== undefined) {
      msg({ type: "result", is_main_result: true, text: util.inspect(value, { colors: false }), extra: {} });
    }
  } catch (e) {
    msg(errorMessage(e));
  } finally {
    interrupt = null;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    current = null;
    event({ t: "done", cell });
  }
}

// one cell at a time, in arrival order
let chain = Promise.resolve();
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  chain = chain.then(() => runCell(cmd));
});
process.stdin.on("end", () => process.exit(0));
event({ t: "ready" });
