// Sandbox templates e2b-local knows (`base`, `code-interpreter-v1`) and what creating a sandbox from one
// adds: the traffic access token of `network: { allowPublicTraffic: false }`, and for the code
// interpreter its server (interpreter/server.py) on port 49999, started and warm before create returns.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { SANDBOX_PATH, USER_UID } from "./view.ts";
import type { Registry, SandboxRec } from "./registry.ts";
import { relayFor, setTrafficToken, sharesHostNetwork, trafficTokenOf } from "./ports.ts";
import { httpError } from "./errors.ts";

/** The port E2B's code interpreter (and so @e2b/code-interpreter) uses. */
export const INTERPRETER_PORT = 49999;

export type Template = {
  id: string;
  alias: string;
  /** started inside a new sandbox of this template; create fails (and the sandbox is killed) if it throws */
  start?: (rec: SandboxRec) => Promise<void>;
};

const SERVER_PATH = fileURLToPath(new URL("./interpreter/server.py", import.meta.url));
const NODE_RUNNER_PATH = fileURLToPath(new URL("./interpreter/node-runner.cjs", import.meta.url));
/** Debian's python3, the one with jupyter_client/ipykernel (a pyenv python3 on PATH may lack them) */
const SYSTEM_PYTHON = "/usr/bin/python3";
/** how long the server may take to start its default kernel (a cold, loaded machine is slow) */
const START_TIMEOUT_MS = 120_000;

// The server's code comes in on stdin (no extra mount into the sandbox): one JSON line with both files.
const BOOTSTRAP = [
  "import json, sys",
  "b = json.loads(sys.stdin.readline())",
  "g = {'__name__': 'e2b_interpreter'}",
  "exec(compile(b['server'], 'interpreter/server.py', 'exec'), g)",
  "g['main'](b['runner'])",
].join("\n");

/** Start the code-interpreter server inside the sandbox and wait until its default context is ready. */
async function startInterpreter(rec: SandboxRec): Promise<void> {
  // Its server listens on the sandbox's loopback: in the host's network it would be the host's port.
  if (sharesHostNetwork(rec.box))
    throw httpError(
      400,
      "code-interpreter-v1 with internet access needs the sandbox's own network namespace, which e2b-local does not give internet-enabled sandboxes yet",
    );
  const [server, runner] = await Promise.all([readFile(SERVER_PATH, "utf8"), readFile(NODE_RUNNER_PATH, "utf8")]);
  const env = { PATH: SANDBOX_PATH, HOME: "/home/user", USER: "user", LOGNAME: "user", ...rec.envVars };
  let stdout = "";
  let stderr = "";
  let settle: (e?: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    settle = (e) => (e ? reject(e) : resolve());
  });
  const timer = setTimeout(() => settle(new Error("the code interpreter did not start in time")), START_TIMEOUT_MS);
  const proc = await rec.box.agent.startProcess({
    config: { cmd: SYSTEM_PYTHON, args: ["-I", "-c", BOOTSTRAP], envs: {}, cwd: "/home/user" },
    env,
    cwd: "/home/user",
    uid: USER_UID,
    stdin: true,
    tag: "code-interpreter",
    listener: {
      onData(stream, data) {
        if (stream === "stdout") {
          stdout += data.toString("utf8");
          if (stdout.includes(`ready ${INTERPRETER_PORT}\n`)) settle();
        } else stderr = (stderr + data.toString("utf8")).slice(-4000);
      },
      onEnd(end) {
        settle(new Error(`the code interpreter exited during start (${JSON.stringify(end)}): ${stderr.trim()}`));
      },
    },
  });
  await rec.box.agent.writeStdin(proc, Buffer.from(`${JSON.stringify({ server, runner })}\n`));
  rec.box.agent.closeStdin(proc);
  // the relay too, so the first runCode does not pay for starting it
  await Promise.all([ready, relayFor(rec.box).ready]).finally(() => clearTimeout(timer));
}

const TEMPLATES: Template[] = [
  { id: "base", alias: "base" },
  { id: "code-interpreter-v1", alias: "code-interpreter-v1", start: startInterpreter },
];

/** The template for a `templateID` as sent by the SDK (an id or an alias), or undefined. */
export function findTemplate(name: string): Template | undefined {
  return TEMPLATES.find((t) => t.id === name || t.alias === name);
}

/** After registry.create: the traffic token (when asked for) and the template's own start. */
export async function prepareSandbox(
  registry: Registry,
  rec: SandboxRec,
  tpl: Template,
  body: Record<string, unknown>,
): Promise<void> {
  const network = body.network;
  if (
    network &&
    typeof network === "object" &&
    (network as { allowPublicTraffic?: unknown }).allowPublicTraffic === false
  )
    setTrafficToken(rec, randomBytes(16).toString("hex"));
  if (!tpl.start) return;
  try {
    await tpl.start(rec);
  } catch (e) {
    await registry.kill(rec);
    throw e;
  }
}

/** Fields added to the create/connect answer. */
export function sandboxExtras(rec: SandboxRec): { trafficAccessToken?: string } {
  const t = trafficTokenOf(rec);
  return t === undefined ? {} : { trafficAccessToken: t };
}
